#!/bin/sh
# Create one database per service, owned by POSTGRES_USER. The official postgres image
# runs this once, on first start with an empty data directory (/docker-entrypoint-initdb.d).
# Kept identical to the copy in deploy/k8s/base/postgres.yaml (a test checks it).
set -eu

for db in ${TESTFLEET_DATABASES:-web_test perf_test scheduler console}; do
    echo "init-databases: creating database $db"
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
        --set db="$db" --set owner="$POSTGRES_USER" <<'SQL'
SELECT format('CREATE DATABASE %I OWNER %I', :'db', :'owner')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db')\gexec
SQL
done
