"""Demo content for the seed. Import `governance.demo.models` explicitly: it pulls in the ML stack."""
