#!/usr/bin/env bash
# Install what the test suite needs on a fresh machine: the package with its test extras,
# and the real peers the integration tests start on loopback (Postfix, Dovecot with IMAP
# and LMTP, nginx, wrk, Chromium, Prometheus). Debian packages are installed when running
# as root (or with sudo).
set -euo pipefail
cd "$(dirname "$0")/.."

SYSTEM_PACKAGES=(postfix dovecot-core dovecot-imapd dovecot-lmtpd nginx wrk chromium prometheus)

missing=()
command -v postfix >/dev/null 2>&1 || [ -x /usr/sbin/postfix ] || missing+=(postfix)
command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || missing+=(dovecot-core)
[ -x /usr/lib/dovecot/imap ] || missing+=(dovecot-imapd)
[ -x /usr/lib/dovecot/lmtp ] || missing+=(dovecot-lmtpd)
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v prometheus >/dev/null 2>&1 || [ -x /usr/bin/prometheus ] || missing+=(prometheus)

if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "tests/setup.sh: need root or sudo to install: ${missing[*]}" >&2; exit 1
  fi
  echo "tests/setup.sh: installing Debian packages: ${SYSTEM_PACKAGES[*]}"
  $SUDO apt-get update -qq
  # postfix asks questions on install; answer "No configuration": tests write their own.
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${SYSTEM_PACKAGES[@]}" >/dev/null
fi

python3 -m pip install -q -e '.[test]'
