"""Offline checks of the Azure infrastructure (no Azure account, no network, no Bicep CLI).

* every Bicep file parses (pycep), module paths resolve, azd parameters match main.bicep params;
* checkov finds no failed check (one scan per test run; skips live in infra/.checkov.yaml);
* settings drift: the Function App sets every setting the app needs in Azure, and every
  application setting it sets is a field alias of ``shared.config.Settings``;
* no secret material: no account keys, SAS keys, passwords, api-keys or ``listKeys()`` (one
  documented exception: the Functions host's blobs_extension key for the Event Grid webhook).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest

pycep = pytest.importorskip("pycep", reason="pycep-parser is in requirements-dev.txt")
from pycep import BicepParser  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
INFRA = ROOT / "infra"
MAIN_BICEP = INFRA / "main.bicep"
FUNCTION_APP_BICEP = INFRA / "modules" / "functionapp.bicep"
CHECKOV_CONFIG = INFRA / ".checkov.yaml"
BICEP_FILES = sorted(INFRA.rglob("*.bicep"))

#: Every setting the app needs on the Function App in Azure (names must match exactly).
REQUIRED_APP_SETTINGS = [
    # Functions host storage (identity-based connection).
    "AzureWebJobsStorage__accountName",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    # Blob trigger connection "DocumentsStorage".
    "DocumentsStorage__blobServiceUri",
    "DocumentsStorage__queueServiceUri",
    "DocumentsStorage__credential",
    "DocumentsStorage__clientId",
    # Service Bus trigger / publisher connection "ServiceBusConnection".
    "ServiceBusConnection__fullyQualifiedNamespace",
    "ServiceBusConnection__credential",
    "ServiceBusConnection__clientId",
    # Telemetry.
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
    # Python worker.
    "PYTHON_ENABLE_INIT_INDEXING",
    # Read by shared.config.Settings.
    "RAGWORKER_ENV",
    "MODEL_PROVIDER",
    "AZURE_OPENAI_ENDPOINT",
    "AZURE_OPENAI_API_VERSION",
    "AZURE_CLIENT_ID",
    "CHAT_DEPLOYMENT",
    "CLASSIFICATION_DEPLOYMENT",
    "EMBEDDING_DEPLOYMENT",
    "EMBEDDING_DIMENSIONS",
    "DATABASE_URL",
    "DOCUMENTS_CONTAINER",
    "TICKETS_QUEUE",
]

#: Settings consumed by the Functions platform, the bindings or the telemetry exporter rather than
#: by our Settings class (identity-based connections are "<connection>__<property>").
PLATFORM_SETTING_PREFIXES = (
    "AzureWebJobs",
    "DocumentsStorage__",
    "ServiceBusConnection__",
    "PYTHON_",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
)

#: Flex Consumption rejects these (runtime and version come from functionAppConfig).
FLEX_FORBIDDEN_APP_SETTINGS = [
    "FUNCTIONS_EXTENSION_VERSION",
    "FUNCTIONS_WORKER_RUNTIME",
    "WEBSITE_RUN_FROM_PACKAGE",
    "WEBSITE_CONTENTAZUREFILECONNECTIONSTRING",
    "WEBSITE_CONTENTSHARE",
    "AzureWebJobsStorage",
]


# --- helpers (plain functions so the tests can prove they detect problems) ------------------
@cache
def _parser() -> BicepParser:
    return BicepParser()


def parse_bicep(text: str) -> dict[str, Any]:
    return dict(_parser().parse(text=text))


def app_setting_names(bicep_text: str) -> list[str]:
    """Names in ``siteConfig.appSettings`` of every Microsoft.Web/sites resource in the text."""
    names: list[str] = []
    for resource in parse_bicep(bicep_text).get("resources", {}).values():
        if resource.get("type") != "Microsoft.Web/sites":
            continue
        site_config = resource.get("config", {}).get("properties", {}).get("siteConfig", {})
        for setting in site_config.get("appSettings", []) or []:
            if isinstance(setting, dict) and isinstance(setting.get("name"), str):
                names.append(setting["name"])
    return names


def missing_app_settings(bicep_text: str, required: list[str]) -> list[str]:
    """Required names absent from the text's app settings (exact, case-sensitive match)."""
    present = set(app_setting_names(bicep_text))
    return [name for name in required if name not in present]


def is_platform_setting(name: str) -> bool:
    return name.startswith(PLATFORM_SETTING_PREFIXES)


def settings_aliases() -> set[str]:
    """Every environment name ``shared.config.Settings`` reads, lower-cased."""
    config = pytest.importorskip("shared.config")
    aliases: set[str] = set()
    for field in config.Settings.model_fields.values():
        for alias in (field.validation_alias, field.alias):
            if alias is None:
                continue
            for choice in getattr(alias, "choices", [alias]):
                if isinstance(choice, str):
                    aliases.add(choice.lower())
    return aliases


# Secret material that must never appear in infrastructure code.
SECRET_PATTERNS: dict[str, re.Pattern[str]] = {
    "storage account key": re.compile(r"AccountKey\s*=", re.IGNORECASE),
    "shared access key": re.compile(r"SharedAccessKey", re.IGNORECASE),
    "SAS signature": re.compile(r"[?&]sig=[A-Za-z0-9%]{20,}"),
    "list* key function": re.compile(r"\blist(Keys|Secrets|ConnectionStrings|AccountSas|ServiceSas)\s*\("),
    "password with a value": re.compile(
        r"""(?ix)
        (password(?!Auth\b)\w*\s*[:=]\s*['"][^'"\s$]+['"])      # password: 'x' (passwordAuth is a switch)
        | (param\s+\w*password\w*\s+\w+\s*=\s*'[^']+')           # param adminPassword string = 'x'
        | (administratorLoginPassword\s*:)                        # any SQL-style admin password
        """
    ),
    "api-key": re.compile(r"api[-_]?key", re.IGNORECASE),
    "connection string with a key": re.compile(r"connectionString[^\n]*(AccountKey|SharedAccessKey)", re.IGNORECASE),
    # Connection strings usually embed a credential: every app setting or output carrying one
    # must be allow-listed below with the reason it is not secret.
    "connection string setting or output": re.compile(
        r"(name:\s*'[^']*connection_?string[^']*')|(^\s*output\s+\w*connection_?string\w*\s)", re.IGNORECASE
    ),
}

_APPINSIGHTS_REASON = (
    "The Application Insights connection string is an instrumentation key plus ingestion endpoints: "
    "identifiers, not credentials. Local auth is disabled on the component, so sending telemetry "
    "still needs an Entra token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING + Monitoring Metrics Publisher)."
)

#: (file names, pattern name, line regex, reason): the only tolerated matches.
SECRET_ALLOW_LIST = [
    (
        {"functionapp.bicep", "main.bicep"},
        "connection string setting or output",
        re.compile(r"'APPLICATIONINSIGHTS_CONNECTION_STRING'|output APPLICATIONINSIGHTS_CONNECTION_STRING string"),
        _APPINSIGHTS_REASON,
    ),
    (
        {"monitoring.bicep"},
        "connection string setting or output",
        re.compile(r"output connectionString string = appInsights\.properties\.ConnectionString"),
        _APPINSIGHTS_REASON,
    ),
    (
        {"eventgrid.bicep"},
        "list* key function",
        re.compile(r"listKeys\('\$\{functionApp\.id\}/host/default'"),
        "Event Grid webhook to the blob trigger needs the Functions host's blobs_extension system key "
        "(the AzureFunction endpoint type reaches Event Grid triggers only); resolved at deployment, "
        "never output. See infra/README.md.",
    ),
]


def find_secrets(text: str, file_name: str = "") -> list[str]:
    """``'<file>:<line>: <pattern>'`` for every match not covered by the allow-list."""
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        for label, pattern in SECRET_PATTERNS.items():
            if not pattern.search(line):
                continue
            allowed = any(
                file_name in allowed_files and label == allowed_label and line_re.search(line)
                for allowed_files, allowed_label, line_re, _ in SECRET_ALLOW_LIST
            )
            if not allowed:
                problems.append(f"{file_name}:{number}: {label}")
    return problems


def scanned_files() -> list[Path]:
    suffixes = {".bicep", ".bicepparam", ".json", ".yaml", ".yml"}
    files = [p for p in INFRA.rglob("*") if p.is_file() and p.suffix in suffixes]
    files += [ROOT / "azure.yaml", ROOT / "scripts" / "postprovision.sh"]
    return sorted(p for p in files if p.exists())


# --- parsing and wiring ------------------------------------------------------------------------
def test_infra_has_the_expected_files() -> None:
    expected = {
        "main.bicep",
        "identity.bicep",
        "storage.bicep",
        "eventgrid.bicep",
        "servicebus.bicep",
        "postgres.bicep",
        "openai.bicep",
        "monitoring.bicep",
        "functionapp.bicep",
        "roles.bicep",
        "network.bicep",
    }
    assert expected <= {p.name for p in BICEP_FILES}
    assert (INFRA / "main.parameters.json").is_file()
    assert (ROOT / "azure.yaml").is_file()


@pytest.mark.parametrize("path", BICEP_FILES, ids=lambda p: str(p.relative_to(INFRA)))
def test_bicep_parses(path: Path) -> None:
    parsed = _parser().parse(file_path=path)
    assert parsed.get("resources") or parsed.get("outputs"), f"{path.name}: nothing declared"


def test_modules_resolve_and_none_is_orphaned() -> None:
    text = MAIN_BICEP.read_text("utf-8")
    referenced = set(re.findall(r"^module\s+\w+\s+'([^']+)'", text, flags=re.MULTILINE))
    assert referenced, "main.bicep declares no modules"
    for ref in referenced:
        assert (INFRA / ref).is_file(), f"main.bicep references missing module {ref}"
    modules = {str(p.relative_to(INFRA)) for p in (INFRA / "modules").glob("*.bicep")}
    assert modules <= referenced, f"modules not used by main.bicep: {sorted(modules - referenced)}"


def test_azd_parameters_match_main_bicep() -> None:
    params = parse_bicep(MAIN_BICEP.read_text("utf-8"))["parameters"]
    values = json.loads((INFRA / "main.parameters.json").read_text("utf-8"))["parameters"]
    unknown = sorted(set(values) - set(params))
    assert not unknown, f"main.parameters.json sets parameters main.bicep does not declare: {unknown}"
    for name in ("environmentName", "location", "principalId"):
        assert name in values
    assert values["environmentName"]["value"] == "${AZURE_ENV_NAME}"
    assert values["location"]["value"] == "${AZURE_LOCATION}"
    assert values["principalId"]["value"] == "${AZURE_PRINCIPAL_ID}"


def test_azure_yaml_declares_the_function_service_and_hooks() -> None:
    yaml = pytest.importorskip("yaml")
    project = yaml.safe_load((ROOT / "azure.yaml").read_text("utf-8"))
    api = project["services"]["api"]
    assert (api["language"], api["host"], api["project"]) == ("python", "function", ".")
    assert project["hooks"]["postprovision"]["run"] == "./scripts/postprovision.sh"
    script = (ROOT / "scripts" / "postprovision.sh").read_text("utf-8")
    assert "--resource-type oss-rdbms" in script
    assert "pgaadauth_create_principal" in script
    assert "-m shared migrate" in script
    assert os.access(ROOT / "scripts" / "postprovision.sh", os.X_OK)


# --- settings drift ----------------------------------------------------------------------------
def test_function_app_sets_every_required_setting() -> None:
    missing = missing_app_settings(FUNCTION_APP_BICEP.read_text("utf-8"), REQUIRED_APP_SETTINGS)
    assert not missing, f"functionapp.bicep does not set: {missing}"


def test_drift_check_reports_a_removed_setting() -> None:
    text = FUNCTION_APP_BICEP.read_text("utf-8")
    block = re.compile(r"\{\s*name:\s*'TICKETS_QUEUE'\s*value:\s*[^\n]+\s*\}\n")
    broken, count = block.subn("", text)
    assert count == 1, "fixture: the TICKETS_QUEUE block was not found"
    assert missing_app_settings(broken, REQUIRED_APP_SETTINGS) == ["TICKETS_QUEUE"]


def test_drift_check_reports_a_misspelled_setting() -> None:
    text = FUNCTION_APP_BICEP.read_text("utf-8").replace("'EMBEDDING_DIMENSIONS'", "'EMBEDDING_DIMENSION'")
    assert missing_app_settings(text, REQUIRED_APP_SETTINGS) == ["EMBEDDING_DIMENSIONS"]


def test_flex_consumption_forbidden_settings_are_absent() -> None:
    names = set(app_setting_names(FUNCTION_APP_BICEP.read_text("utf-8")))
    assert not names & set(FLEX_FORBIDDEN_APP_SETTINGS)


def test_app_settings_are_unique() -> None:
    names = app_setting_names(FUNCTION_APP_BICEP.read_text("utf-8"))
    assert len(names) == len(set(names)), "duplicate app setting names"


def settings_unknown_to_the_app(bicep_text: str) -> list[str]:
    """Application settings (not platform/connection ones) that no Settings field reads."""
    aliases = settings_aliases()
    ours = [n for n in app_setting_names(bicep_text) if not is_platform_setting(n)]
    return [n for n in ours if n.lower() not in aliases]


def test_our_app_settings_are_settings_fields() -> None:
    text = FUNCTION_APP_BICEP.read_text("utf-8")
    required_ours = [n for n in REQUIRED_APP_SETTINGS if not is_platform_setting(n)]
    assert "DATABASE_URL" in required_ours and "AzureWebJobsStorage__accountName" not in required_ours
    assert settings_unknown_to_the_app(text) == []


def test_settings_check_reports_a_name_the_app_does_not_read() -> None:
    text = FUNCTION_APP_BICEP.read_text("utf-8").replace("'TICKETS_QUEUE'", "'TICKET_QUEUE_NAME'")
    assert settings_unknown_to_the_app(text) == ["TICKET_QUEUE_NAME"]


def test_identity_connection_settings_the_app_reads_are_set() -> None:
    """Settings aliases of the form <connection>__<property> must be provided in Azure."""
    names = {n.lower() for n in app_setting_names(FUNCTION_APP_BICEP.read_text("utf-8"))}
    needed = sorted(a for a in settings_aliases() if "__" in a)
    assert needed, "expected Settings to read identity-based connection settings"
    assert [a for a in needed if a not in names] == []


def test_database_url_has_no_password() -> None:
    text = FUNCTION_APP_BICEP.read_text("utf-8")
    (url,) = re.findall(r"'(postgresql://[^']+)'", text)
    assert re.match(r"postgresql://\$\{identityName\}@\$\{postgresFqdn\}:5432/", url), url
    assert "sslmode=require" in url
    assert ":" not in url.split("@")[0].removeprefix("postgresql://")


# --- secrets -----------------------------------------------------------------------------------
def test_no_secrets_in_infrastructure_code() -> None:
    problems = [p for path in scanned_files() for p in find_secrets(path.read_text("utf-8"), path.name)]
    assert not problems, "secret material found:\n" + "\n".join(problems)


def test_the_host_key_exception_is_used_exactly_once() -> None:
    hits = [
        path.name
        for path in scanned_files()
        for line in path.read_text("utf-8").splitlines()
        if SECRET_PATTERNS["list* key function"].search(line)
    ]
    assert hits == ["eventgrid.bicep"]


@pytest.mark.parametrize(
    "line",
    [
        "value: 'DefaultEndpointsProtocol=https;AccountName=x;AccountKey=abc'",
        "value: 'Endpoint=sb://x.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=abc'",
        "value: storage.listKeys().keys[0].value",
        "value: listKeys(storage.id, '2023-05-01').keys[0].value",
        "administratorLoginPassword: adminPassword",
        "param adminPassword string = 'Hunter2!'",
        "password: 'Hunter2!'",
        "adminPassword: 'Hunter2!'",
        "name: 'AZURE_OPENAI_API_KEY'",
        "headers: { 'api-key': key }",
        "connectionString: 'x;AccountKey=y'",
        "name: 'SERVICEBUS_CONNECTION_STRING'",
        "output storageConnectionString string = conn",
    ],
)
def test_secret_scanner_bites(line: str) -> None:
    assert find_secrets(line, "example.bicep"), line


def test_secret_allow_list_is_narrow() -> None:
    storage_key = "value: listKeys('${functionApp.id}/host/default', '2024-04-01').systemKeys.blobs_extension"
    assert find_secrets(storage_key, "eventgrid.bicep") == []
    assert find_secrets(storage_key, "functionapp.bicep")  # same line anywhere else is flagged
    assert find_secrets("value: listKeys(storage.id, '2023-05-01')", "eventgrid.bicep")
    appinsights = "name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'"
    assert find_secrets(appinsights, "functionapp.bicep") == []
    assert find_secrets(appinsights.replace("APPLICATIONINSIGHTS", "DOCUMENTS"), "functionapp.bicep")


# --- checkov -----------------------------------------------------------------------------------
def _checkov_command() -> list[str]:
    script = Path(sys.executable).parent / "checkov"
    base = [str(script)] if script.is_file() else [sys.executable, "-m", "checkov.main"]
    return [*base, "-d", str(INFRA), "--config-file", str(CHECKOV_CONFIG), "--output", "json", "--quiet"]


@pytest.fixture(scope="session")
def checkov_report() -> dict[str, Any]:
    env = {**os.environ, "LOG_LEVEL": "WARNING"}  # skip-download in the config keeps it offline
    started = time.monotonic()
    result = subprocess.run(_checkov_command(), cwd=ROOT, capture_output=True, text=True, timeout=240, env=env)
    elapsed = time.monotonic() - started
    if not result.stdout.strip().startswith(("{", "[")):
        pytest.fail(
            f"checkov did not produce a report (exit {result.returncode}); is it installed and importable?\n"
            f"{result.stderr[-3000:]}"
        )
    data = json.loads(result.stdout)
    reports = data if isinstance(data, list) else [data]
    (bicep,) = [r for r in reports if r.get("check_type") == "bicep"] or [{}]
    bicep["_elapsed_seconds"] = elapsed
    return dict(bicep)


def test_checkov_passes(checkov_report: dict[str, Any]) -> None:
    summary = checkov_report.get("summary", {})
    failed = checkov_report.get("results", {}).get("failed_checks", [])
    details = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in failed]
    assert summary.get("failed") == 0, "checkov failed checks:\n" + "\n".join(details)
    assert summary.get("parsing_errors") == 0
    assert summary.get("passed", 0) > 0, "checkov scanned nothing"


def test_every_checkov_skip_has_a_reason() -> None:
    lines = CHECKOV_CONFIG.read_text("utf-8").splitlines()
    for index, line in enumerate(lines):
        match = re.match(r"\s*-\s*(CKV2?_\w+)", line)
        if not match:
            continue
        # the reason is the comment block right above the skip (or above a run of skips)
        above = index - 1
        while above >= 0 and re.match(r"\s*-\s*CKV", lines[above]):
            above -= 1
        assert above >= 0 and lines[above].lstrip().startswith("#"), f"{match.group(1)} has no reason"
        block = []
        while above >= 0 and lines[above].lstrip().startswith("#"):
            block.append(lines[above])
            above -= 1
        assert match.group(1) in "\n".join(block), f"{match.group(1)} is not named in its reason"
