"""Secrets never reach the index: files named like credentials are recognised, and keys pasted into code
are starred out without moving any line or byte offset."""

from __future__ import annotations


import pytest

from indexer.secrets import StreamMasker, is_secret_path, mask_secrets

# Fake credentials, assembled at run time so that secret scanners do not flag this file.
AWS_KEY_ID = "AKIA" + "Z7Q2M4XK9B3RT6PL"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/" + "bPxRfiCYz9Q2v8LmT3"
GITHUB_CLASSIC = "ghp" + "_" + "x7Kq2Lm9Pz4Rt8Vw1Yb5Nc3Hd6Fg0Js2Ae7Uo"
GITHUB_FINE_GRAINED = "github" + "_pat_" + "11ABCDE7Y0xk2Lm9Pz4Rt8_" + "Vw1Yb5Nc3Hd6Fg0Js2Ae7UoQ8iT4sW6pZ3nX9cR5vB1mK7"
OPENAI_LEGACY = "sk-" + "T3BlbkFJq7Xv2Lm9Pz4Rt8Vw1Yb5Nc3Hd6Fg0Js2Ae7UoQ8"
OPENAI_PROJECT = "sk-proj-" + "Qz8vX2mL4kR9tP1wN6cB3hY7jF5gD0sA-Kx3Vb9Nm2Lq7Wr4Tz8Yp1Hc6Jd5Gf0Sa_e2"
SLACK = "xoxb-" + "2048613975-4096127385-Hd6Fg0Js2Ae7UoQ8iT4sW6pZ"
GENERIC = "Zr8#qL2!vX9m$Tk4"


def _masked(original: str, secret: str) -> str:
    return original.replace(secret, "*" * len(secret))


@pytest.mark.parametrize(
    "path",
    [
        ".env", "config/.env", ".env.local", ".env.production", "app/.ENV.dev",
        "certs/server.pem", "tls/server.key", "store.p12", "store.pfx", "android/release.keystore",
        "home/.ssh/id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "id_rsa.bak",
        "credentials.json", "gcp/credentials-prod.json",
        ".npmrc", ".pypirc", "home/.netrc", "deploy/secrets.yml", "secrets.yaml",
    ],
)  # fmt: skip
def test_credential_file_names_are_secret(path: str) -> None:
    assert is_secret_path(path)


@pytest.mark.parametrize(
    "path",
    [
        ".env.example", ".env.sample", ".env.template", "config/.env.example",
        "id_rsa.pub", "home/.ssh/id_ed25519.pub", "indexer/secrets.py", "environment.py", "keys.py",
        "credentials.py", "docs/credentials.md", "monkey.py", "secrets_test.yml.j2", "src/env/settings.py",
    ],
)  # fmt: skip
def test_ordinary_file_names_are_not_secret(path: str) -> None:
    assert not is_secret_path(path)


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (f'client = boto3.client("s3", aws_access_key_id="{AWS_KEY_ID}")', AWS_KEY_ID),
        (f"aws_secret_access_key = {AWS_SECRET}", AWS_SECRET),
        (f'AWS_SECRET_ACCESS_KEY="{AWS_SECRET}"', AWS_SECRET),
        (f'{{"SecretAccessKey": "{AWS_SECRET}"}}', AWS_SECRET),
        (f'headers = {{"Authorization": "token {GITHUB_CLASSIC}"}}', GITHUB_CLASSIC),
        (f"GH={GITHUB_FINE_GRAINED}", GITHUB_FINE_GRAINED),
        (f'openai.api_key = "{OPENAI_LEGACY}"', OPENAI_LEGACY),
        (f"const key = '{OPENAI_PROJECT}';", OPENAI_PROJECT),
        (f"slack_client = WebClient(token='{SLACK}')", SLACK),
        (f'password = "{GENERIC}"', GENERIC),
        (f'DB_PASSWORD: "{GENERIC}"', GENERIC),
        (f"api_key: str = '{GENERIC}'", GENERIC),
        (f'apiKey := "{GENERIC}"', GENERIC),
        (f'"client_secret": "{GENERIC}",', GENERIC),
        (f'login(user, passwd="{GENERIC}")', GENERIC),
        (f'webhook = "https://hooks.example.com/?key={AWS_KEY_ID}"', AWS_KEY_ID),
    ],
)
def test_each_secret_style_is_masked_in_place(line: str, secret: str) -> None:
    assert len(AWS_SECRET) == 40
    masked = mask_secrets(line)

    assert masked == _masked(line, secret)
    assert len(masked.encode()) == len(line.encode())


def test_private_key_body_is_masked_but_lines_stay_put() -> None:
    body = "MIIEowIBAAKCAQEA7x2kL9\r\nq3Zp8Vn4Rt1Wy6Bc0Hd5Fg\nJs2Ae7UoQ8iT4sW6pZ3n=="
    text = (
        "KEY = '''\n-----BEGIN RSA PRIVATE KEY-----\n" + body + "\n-----END RSA PRIVATE KEY-----\n'''\nx = 1\n"
    )

    masked = mask_secrets(text)

    assert "MIIE" not in masked and "q3Zp" not in masked and "Js2A" not in masked
    assert masked.splitlines() == [
        "KEY = '''",
        "-----BEGIN RSA PRIVATE KEY-----",
        "*" * 22,
        "*" * 22,
        "*" * 22,
        "-----END RSA PRIVATE KEY-----",
        "'''",
        "x = 1",
    ]
    assert "\r\n" in masked and len(masked) == len(text)


def test_unterminated_private_key_is_masked_to_the_end() -> None:
    text = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nBG5vbmUAAAAEbm9uZQ"

    masked = mask_secrets(text)

    assert masked == "-----BEGIN OPENSSH PRIVATE KEY-----\n" + "*" * 24 + "\n" + "*" * 18


ORDINARY_CODE = '''\
import getpass, os

password = input("Password: ")
password = getpass.getpass()
password = "hunter2"
token_type = "Bearer"
tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased12")
secret_name = "prod-db-secret-2024"
TOKEN_URL = "https://oauth2.googleapis.com/token"
API_KEY_ENV = "OPENAI_API_KEY"
api_key = os.environ["OPENAI_API_KEY_2024"]
password_hash = make_hash(password)
model_name: str = "sentence-transformers/all-MiniLM-L6-v2"
config = {"secret_ref": "V1LocalObjectReference", "token": ".models.v1_token_review_spec"}
placeholder_password = "${DATABASE_PASSWORD}"
task_id = "task-something-long-enough-here-2024"
sklearn = "sk-learn-model-version-2024-final-xx"
checksum = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
ASIAN_MARKETS = ["ASIAPACIFICREGION1234"]
'''


def test_ordinary_code_is_left_alone() -> None:
    assert mask_secrets(ORDINARY_CODE) == ORDINARY_CODE


def test_masking_a_megabyte_of_ordinary_code_changes_nothing() -> None:
    text = ORDINARY_CODE * (1_000_000 // len(ORDINARY_CODE))

    assert mask_secrets(text) == text


def test_code_that_mentions_a_key_marker_loses_nothing() -> None:
    source = 'if line.startswith("-----BEGIN RSA PRIVATE KEY-----"):\n    kind = "rsa"\n'

    assert mask_secrets(source) == source


def test_private_key_inside_a_json_string_is_masked() -> None:
    body = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\nBKcwggSjAgEAAoIBAQC7=\\n"
    document = '{"private_key": "-----BEGIN PRIVATE KEY-----\\n' + body + '-----END PRIVATE KEY-----\\n", "n": 1}'

    masked = mask_secrets(document)

    assert "MIIE" not in masked and "BKcw" not in masked
    assert masked.startswith('{"private_key": "-----BEGIN PRIVATE KEY-----')
    assert masked.endswith('-----END PRIVATE KEY-----\\n", "n": 1}')
    assert len(masked) == len(document)


# ---------------------------------------------------------------------- test output, .env lines, streams

STRIPE_LIKE = "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        (f"DB_PASSWORD={GENERIC.replace('#', 'x').replace('$', 'y').replace('!', 'z')}",
         GENERIC.replace("#", "x").replace("$", "y").replace("!", "z")),
        ("export API_KEY=abcd1234efgh5678", "abcd1234efgh5678"),
        ("  SERVICE_TOKEN=supersecretvalue", "supersecretvalue"),
        ('API_KEY = "supersecretvalue"', "supersecretvalue"),
        ('SECRET_KEY: "hunter2x"', "hunter2x"),
        (f'API_KEY = "{STRIPE_LIKE}"', STRIPE_LIKE),
    ],
)
def test_env_lines_and_constants_named_for_secrets_are_masked(line: str, secret: str) -> None:
    assert mask_secrets(line) == _masked(line, secret)


def test_a_secret_is_masked_where_a_failing_test_prints_it_again() -> None:
    output = (
        f'    def test_login():\n        API_KEY = "{STRIPE_LIKE}"\n>       assert login(API_KEY)\n'
        f"E       AssertionError: server refused key {STRIPE_LIKE!r}\n"
        f"E       assert {{'token': '{STRIPE_LIKE}'}} is None\n"
    )

    masked = mask_secrets(output)

    assert STRIPE_LIKE not in masked and "sk_live" not in masked
    assert len(masked) == len(output) and masked.count("\n") == output.count("\n")


ORDINARY_SCRIPTS = '''\
TOKEN=$(cat ~/.token)
PASSWORD=${DB_PASSWORD}
token=tokens[0]
password=getpass()
API_KEY = "OPENAI_API_KEY"
TOKEN_TYPE = "bearer-token-x"
_SEND_MESSAGE_TOKEN = "send_message"
X_CHROMA_TOKEN = "X-Chroma-Token"
TOKEN_COMMENT = "comment"
SECRET_SETTING = "app.settings.SecretKey"
API_KEY=None
'''


def test_ordinary_assignments_and_scripts_are_left_alone() -> None:
    assert mask_secrets(ORDINARY_SCRIPTS) == ORDINARY_SCRIPTS


def test_a_stream_cut_anywhere_is_masked_like_the_whole_text() -> None:
    body = "MIIEowIBAAKCAQEA7x2kL9q3Zp8Vn4Rt1Wy6\nBc0Hd5FgJs2Ae7UoQ8iT4sW6pZ3n\nq3Zp8Vn4Rt1Wy6Bc0Hd5==\n"
    text = (f"log start\nexport GITHUB_TOKEN={GITHUB_CLASSIC}\n-----BEGIN RSA PRIVATE KEY-----\n{body}"
            f"-----END RSA PRIVATE KEY-----\nslack {SLACK} done\n")
    whole = mask_secrets(text)
    for size in (1, 7, 33, 64):
        masker = StreamMasker()
        pieces = [masker.feed(text[i : i + size]) for i in range(0, len(text), size)]
        assert "".join(pieces) + masker.flush() == whole, size
    assert GITHUB_CLASSIC not in whole and "MIIE" not in whole and "Bc0H" not in whole and SLACK not in whole


def test_a_secret_assigned_early_in_a_stream_is_masked_where_it_is_printed_much_later() -> None:
    masker = StreamMasker()
    out = masker.feed(f'        API_KEY = "{STRIPE_LIKE}"\n')
    out += masker.feed("noise line\n" * 10_000)
    out += masker.feed(f"E       AssertionError: login failed for {STRIPE_LIKE}\n") + masker.flush()

    assert STRIPE_LIKE not in out and out.endswith("login failed for " + "*" * len(STRIPE_LIKE) + "\n")
