#!/usr/bin/env bash
# Everything the test suite needs besides Python packages: a PostgreSQL server answering on
# 127.0.0.1:5432 (trust auth, database "test"), Debian's Chromium, CJK and emoji fonts for the
# browser tests. Idempotent: installs or starts only what is missing.
set -euo pipefail

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need_apt+=(fonts-noto-cjk)
# The lights are 🟢🟡🔴⚪ emoji: without a colour emoji font Chromium draws empty boxes.
dpkg -s fonts-noto-color-emoji >/dev/null 2>&1 || need_apt+=(fonts-noto-color-emoji)

pg_answers() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
if ! command -v pg_isready >/dev/null 2>&1 || ! command -v pg_ctlcluster >/dev/null 2>&1; then
  need_apt+=(postgresql postgresql-client)
fi

apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null 2>&1 || apt-get update -qq
  apt-get install -y -qq "$@" >/dev/null
}

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "test-setup: installing ${need_apt[*]}"
  if [ "$(id -u)" -eq 0 ]; then apt_install "${need_apt[@]}"; else sudo -n true 2>/dev/null && sudo bash -c "$(declare -f apt_install); apt_install ${need_apt[*]}"; fi
fi

if ! pg_answers; then
  echo "test-setup: starting PostgreSQL"
  ver=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)
  if [ -z "$ver" ]; then
    echo "test-setup: no PostgreSQL cluster found" >&2
    exit 1
  fi
  conf=/etc/postgresql/$ver/main
  # Trust auth on loopback, as the tests expect (a throwaway test server only).
  if ! grep -q "kpi-test" "$conf/pg_hba.conf" 2>/dev/null; then
    sed -i '1i host all all 127.0.0.1/32 trust # kpi-test\nhost all all ::1/128 trust # kpi-test\nlocal all all trust # kpi-test' "$conf/pg_hba.conf"
  fi
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start || pg_ctlcluster "$ver" main start
  for _ in $(seq 1 30); do pg_answers && break; sleep 1; done
  pg_answers || { echo "test-setup: PostgreSQL did not start" >&2; exit 1; }
fi

if ! psql -h 127.0.0.1 -U postgres -d test -qtAc "select 1" >/dev/null 2>&1; then
  psql -h 127.0.0.1 -U postgres -qc "create database test" >/dev/null
fi
echo "test-setup: PostgreSQL, Chromium, CJK and emoji fonts ready"
