#!/usr/bin/env bash
# azd postprovision hook: give the Function App's managed identity a PostgreSQL role, then apply
# the schema migrations as the signed-in administrator and grant the identity table access.
#
# Keyless: the only credential is a short-lived Microsoft Entra access token for the signed-in
# Azure CLI account (the server's Entra administrator, see infra/modules/postgres.bicep). It is
# used to create the identity's role and is never printed or written to disk.
#
# Inputs (azd exports the provision outputs as environment variables):
#   POSTGRES_SERVER_FQDN, POSTGRES_DATABASE, AZURE_MANAGED_IDENTITY_NAME, AZURE_RESOURCE_GROUP,
#   NETWORK_ISOLATION_ENABLED, AZURE_PRINCIPAL_NAME (set by the preprovision hook).
# Optional:
#   RAGWORKER_SKIP_DB_SETUP=true   skip everything (e.g. the database is managed elsewhere)
#   RAGWORKER_CLIENT_IP=1.2.3.4    the address to allow through the server firewall for this run
#                                  (default: detected; set to "none" to add no rule)
#   PYTHON=/path/to/python         interpreter with the app's requirements installed
set -euo pipefail

if [ "${RAGWORKER_SKIP_DB_SETUP:-false}" = "true" ]; then
  echo "postprovision: RAGWORKER_SKIP_DB_SETUP=true, skipping database setup."
  exit 0
fi

: "${POSTGRES_SERVER_FQDN:?missing; run through azd (it exports the provision outputs)}"
: "${AZURE_MANAGED_IDENTITY_NAME:?missing; run through azd}"
database="${POSTGRES_DATABASE:-ragworker}"
app_role="${AZURE_MANAGED_IDENTITY_NAME}"
server_name="${POSTGRES_SERVER_FQDN%%.*}"

if [ "${NETWORK_ISOLATION_ENABLED:-false}" = "true" ]; then
  cat <<MSG
postprovision: network isolation is on, so PostgreSQL has no public endpoint and this machine
cannot reach it. Run this script from a host inside the virtual network (or over VPN):
  POSTGRES_SERVER_FQDN=${POSTGRES_SERVER_FQDN} AZURE_MANAGED_IDENTITY_NAME=${app_role} \\
  NETWORK_ISOLATION_ENABLED=false RAGWORKER_CLIENT_IP=none scripts/postprovision.sh
MSG
  exit 0
fi

command -v az >/dev/null 2>&1 || { echo "postprovision: the Azure CLI (az) is required" >&2; exit 1; }

admin="${AZURE_PRINCIPAL_NAME:-}"
if [ -z "$admin" ]; then
  admin="$(az account show --query user.name -o tsv)"
fi

if [ -n "${PYTHON:-}" ]; then
  python="$PYTHON"
elif [ -x .venv/bin/python ]; then
  python=.venv/bin/python
else
  python=python3
fi

# Let this machine through the server firewall (the server only allows Azure services otherwise).
if [ -z "${EXISTING_POSTGRES_FQDN:-}" ] && [ "${RAGWORKER_CLIENT_IP:-}" != "none" ]; then
  client_ip="${RAGWORKER_CLIENT_IP:-$(curl -fsS --max-time 10 https://api.ipify.org || true)}"
  if [ -n "$client_ip" ]; then
    echo "postprovision: allowing ${client_ip} through the firewall of ${server_name}"
    az postgres flexible-server firewall-rule create \
      --resource-group "${AZURE_RESOURCE_GROUP:?missing; run through azd}" \
      --name "$server_name" --rule-name azd-developer \
      --start-ip-address "$client_ip" --end-ip-address "$client_ip" --output none
  else
    echo "postprovision: could not detect this machine's public address; set RAGWORKER_CLIENT_IP" >&2
  fi
fi

echo "postprovision: ensuring the database role for managed identity ${app_role}"
PGHOST="$POSTGRES_SERVER_FQDN" PGUSER="$admin" \
PGPASSWORD="$(az account get-access-token --resource-type oss-rdbms --query accessToken -o tsv)" \
RAGWORKER_APP_ROLE="$app_role" "$python" - <<'PY'
import os

import psycopg

role = os.environ["RAGWORKER_APP_ROLE"]
# Entra principals are created from the `postgres` database by an Entra administrator.
with psycopg.connect(dbname="postgres", sslmode="require", autocommit=True, connect_timeout=30) as conn:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    if exists:
        print(f"postprovision: role {role} already exists")
    else:
        # Not an admin, no MFA claim required: an ordinary login role mapped to the identity.
        conn.execute("SELECT * FROM pgaadauth_create_principal(%s, false, false)", (role,))
        print(f"postprovision: created role {role}")
PY

# Migrations run as the administrator (the app's own code path: it fetches an Entra token for
# the signed-in account), then grant the identity data access. The app role gets DML only: it
# owns no tables, so row-level security applies to it.
admin_url_user="$("$python" -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$admin")"
echo "postprovision: applying migrations to ${POSTGRES_SERVER_FQDN}/${database} as ${admin}"
# AZURE_CLIENT_ID is unset so the credential chain uses the signed-in account, not an identity.
env -u AZURE_CLIENT_ID \
  DATABASE_URL="postgresql://${admin_url_user}@${POSTGRES_SERVER_FQDN}:5432/${database}?sslmode=require" \
  "$python" -m shared migrate --app-role "$app_role"
