#!/bin/sh
# Install the Docker Compose v2 CLI plugin (`docker compose`) on Debian 12 (bookworm),
# for `docker compose -f docker/compose.yml config` in CI. Nothing else is changed.
#
# Bookworm has only compose v1, and Docker's own docker-compose-plugin package is not
# in Debian. Debian 13 (trixie) packages compose v2 as `docker-compose` (Go binary,
# depends only on libc6 >= 2.34; it installs /usr/libexec/docker/cli-plugins/docker-compose
# and /usr/bin/docker-compose). This script downloads that one .deb with apt-get through
# a private, temporary source list made from the machine's own Debian mirror entry, and
# installs it with dpkg. The system's apt sources stay untouched.
set -eu

if docker compose version >/dev/null 2>&1; then
    docker compose version
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/parts" "$tmp/lists/partial" "$tmp/cache/archives/partial"

# First stanza of the system's deb822 source (the main archive), with the suite set to trixie.
awk 'BEGIN { RS = ""; ORS = "\n\n" } NR == 1' /etc/apt/sources.list.d/debian.sources \
    | sed -e 's/^Suites:.*/Suites: trixie/' -e '/^#/d' > "$tmp/parts/trixie.sources"

apt_opts="-o Dir::Etc::SourceList=/dev/null -o Dir::Etc::SourceParts=$tmp/parts \
 -o Dir::State::Lists=$tmp/lists -o Dir::Cache=$tmp/cache -o APT::Sandbox::User=root"
# shellcheck disable=SC2086  # apt_opts is a list of options
apt-get $apt_opts -qq update
# shellcheck disable=SC2086
(cd "$tmp" && apt-get $apt_opts -qq download docker-compose)
dpkg -i "$tmp"/docker-compose_*.deb
docker compose version
