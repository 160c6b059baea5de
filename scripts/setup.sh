#!/usr/bin/env bash
# Set up everything router needs on a fresh Debian machine: Dovecot (for the
# sandbox and the integration tests), Cyrus IMAP and Courier-IMAP unpacked
# beside it (tests of other server families), and a virtualenv with the package.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
need_apt=()
[ -x /usr/sbin/dovecot ] || need_apt+=(dovecot-imapd)
# PostgreSQL: the test harness starts its own server (router/testing/postgres.py).
compgen -G "/usr/lib/postgresql/*/bin/postgres" >/dev/null || need_apt+=(postgresql)
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
# Cyrus' shared libraries and the SASL tools its test accounts use; none of
# these conflict with dovecot-imapd.
cyrus_libs=(libxapian30 libpcre3 libical3 libjansson4 libzephyr4 libclamav12 libpq5 libwrap0
            libsasl2-modules libsasl2-modules-db sasl2-bin)
command -v saslpasswd2 >/dev/null 2>&1 || need_apt+=("${cyrus_libs[@]}")
# Courier's libraries (and the tools its harness uses: unshare, openssl, perl).
courier_libs=(libidn12 libgamin0 libltdl7 libgdbm6 util-linux openssl perl)
[ -e /usr/lib/x86_64-linux-gnu/libidn.so.12 ] && [ -e /usr/lib/x86_64-linux-gnu/libfam.so.0 ] || need_apt+=("${courier_libs[@]}")
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]} with apt-get" >&2
  $SUDO apt-get update -qq
  # policy-rc.d keeps the packages from starting system services in containers.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >&2
fi

# cyrus-imapd conflicts with dovecot-imapd (both provide imap-server), so it is
# not installed: its .debs are downloaded and unpacked where router.testing
# runs them from (router/testing/cyrus.py). Nothing under /etc or /var changes.
SERVERS=${ROUTER_TEST_SERVERS:-/opt/router-test-servers}
if [ ! -x "$SERVERS/cyrus/usr/lib/cyrus/bin/master" ]; then
  echo "setup: unpacking Debian's cyrus-imapd into $SERVERS/cyrus" >&2
  dl=$(mktemp -d)
  chmod 755 "$dl"   # apt's _apt user downloads into it
  (cd "$dl" && apt-get download -qq cyrus-imapd cyrus-common >&2)
  $SUDO mkdir -p "$SERVERS/cyrus.tmp"
  for deb in "$dl"/*.deb; do $SUDO dpkg-deb -x "$deb" "$SERVERS/cyrus.tmp"; done
  $SUDO rm -rf "$SERVERS/cyrus"
  $SUDO mv "$SERVERS/cyrus.tmp" "$SERVERS/cyrus"
  rm -rf "$dl"
fi

# courier-imap conflicts with dovecot-imapd too; same treatment. Its compiled-in
# paths are bind-mounted in a private mount namespace at run time
# (router/testing/courier.py), onto these two empty mount points.
if [ ! -x "$SERVERS/courier/usr/sbin/couriertcpd" ]; then
  echo "setup: unpacking Debian's courier-imap into $SERVERS/courier" >&2
  dl=$(mktemp -d)
  chmod 755 "$dl"
  (cd "$dl" && apt-get download -qq courier-imap courier-base courier-authlib courier-authdaemon \
      courier-authlib-userdb libcourier-unicode4 >&2)
  $SUDO mkdir -p "$SERVERS/courier.tmp"
  for deb in "$dl"/*.deb; do $SUDO dpkg-deb -x "$deb" "$SERVERS/courier.tmp"; done
  $SUDO rm -rf "$SERVERS/courier"
  $SUDO mv "$SERVERS/courier.tmp" "$SERVERS/courier"
  rm -rf "$dl"
fi
$SUDO mkdir -p /etc/courier /usr/lib/courier-authlib

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
if ! .venv/bin/python -c "import router, pytest, aiosmtpd" >/dev/null 2>&1 || [ pyproject.toml -nt .venv/.installed ]; then
  .venv/bin/pip install -q --disable-pip-version-check -e ".[test]" >&2
  touch .venv/.installed
fi
