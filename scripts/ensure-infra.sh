#!/usr/bin/env bash
# Makes sure the local PostgreSQL and RabbitMQ the suite and its tests use are running.
# Starts them when installed but stopped; installs them from Debian's packages when missing
# and we are root; otherwise says in one line what to do. Fails loudly, never skips.
set -euo pipefail

up() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
  for _ in $(seq 1 60); do up "$1" && return 0; sleep 1; done
  echo "ensure-infra: $2 did not open port $1 within 60 s" >&2
  return 1
}

install_pkg() {
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "ensure-infra: installing $1 from Debian packages"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$1" >/dev/null
  else
    echo "ensure-infra: $1 is missing; install it with: sudo apt-get install $1" >&2
    exit 1
  fi
}

if ! up 5432; then
  command -v pg_ctlcluster >/dev/null || install_pkg postgresql
  version=$(ls /etc/postgresql | sort -V | tail -1)
  pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port 5432 PostgreSQL
fi
if ! psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
  echo "ensure-infra: PostgreSQL at 127.0.0.1:5432 does not accept user postgres without a password (tests need trust auth)" >&2
  exit 1
fi

if ! up 5672; then
  command -v rabbitmq-server >/dev/null || install_pkg rabbitmq-server
  rabbitmq-server -detached || true
  wait_port 5672 RabbitMQ
fi
echo "ensure-infra: PostgreSQL 127.0.0.1:5432 and RabbitMQ 127.0.0.1:5672 are up"
