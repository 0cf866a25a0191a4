#!/bin/sh
# Runs once, when the postgres container initialises an empty data directory: one database
# per service (DESIGN.md §2), owned by the `provisio` role the services connect as.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
  -v password="$PROVISIO_PG_PASSWORD" <<'SQL'
CREATE ROLE provisio LOGIN PASSWORD :'password';
CREATE DATABASE provisio_ingest OWNER provisio;
CREATE DATABASE provisio_calc OWNER provisio;
CREATE DATABASE provisio_quota OWNER provisio;
CREATE DATABASE provisio_payout OWNER provisio;
SQL
