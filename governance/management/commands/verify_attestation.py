import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from governance import attestation


class Command(BaseCommand):
    help = (
        "Verify a release attestation offline: its Ed25519 signature and, with --artifact, the artifact's SHA-256. "
        "Exits non-zero saying why when it fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", type=Path, help="The attestation JSON (GET …/versions/{n}/attestation/).")
        parser.add_argument("--artifact", type=Path, help="The model file that was released.")
        parser.add_argument("--public-key", type=Path,
                            help="PEM public key (GET /api/v1/keys/attestation.pub); default: this server's key.")

    def handle(self, *args, file, artifact, public_key, **options):
        try:
            doc = json.loads(file.read_text())
        except (OSError, ValueError) as exc:
            raise CommandError(f"Cannot read {file} as JSON: {exc}") from exc
        key = None
        if public_key is not None:
            try:
                key = attestation.load_public_key(public_key.read_bytes())
            except (OSError, ValueError, attestation.VerificationError) as exc:
                raise CommandError(f"Cannot use {public_key} as the public key: {exc}") from exc
        data = artifact.read_bytes() if artifact is not None else None
        try:
            payload = attestation.verify(doc, public_key=key, artifact=data)
        except attestation.VerificationError as exc:
            raise CommandError(f"INVALID: {exc}") from exc
        approvals = ", ".join(a["reviewer"] for a in payload.get("approvals", [])) or "none"
        self.stdout.write(self.style.SUCCESS(
            f"VALID: {payload['model']} v{payload['version']} sha256={payload['artifact_sha256']} "
            f"released by {payload.get('released_by')} at {payload.get('released_at')}; approvals: {approvals}"
            + ("; artifact matches." if data is not None else ".")
        ))
