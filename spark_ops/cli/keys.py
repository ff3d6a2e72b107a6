"""``spark keys generate|fingerprint``: the Ed25519 key pair that signs verdicts and archives."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from spark_ops.cli._errors import exit_codes, say
from spark_ops.cli._params import PlainCommand, PlainGroup

app = typer.Typer(help="Signing keys for signed verdicts and archives.", no_args_is_help=True, cls=PlainGroup)


@app.command("generate", cls=PlainCommand)
def generate(
    out: Annotated[Path, typer.Option("--out", help="Folder for spark-signing.key and spark-signing.pub.")],
) -> None:
    """Write a new Ed25519 key pair and print its fingerprint (sha256 of the public key's DER).

    The private key (PKCS#8 PEM, mode 0600) is encrypted when SPARK_SIGNING_KEY_PASSPHRASE is set; an
    existing key is never replaced.
    """
    from spark_ops import signing

    with exit_codes():
        keys = signing.generate_keys(out, signing.passphrase_from_env())
        protection = "encrypted with $SPARK_SIGNING_KEY_PASSPHRASE" if keys.encrypted else "not encrypted"
        say(f"wrote {keys.private} (private, mode 0600, {protection}) and {keys.public} (public)")
        print(keys.fingerprint)


@app.command("fingerprint", cls=PlainCommand)
def fingerprint(
    key: Annotated[Path, typer.Argument(metavar="PUB", help="A public key (spark-signing.pub).")],
) -> None:
    """Print a public key's fingerprint, as `evidence verify` names the signer of an archive."""
    from spark_ops import signing

    with exit_codes():
        print(signing.load_public_key(key, option="fingerprint").fingerprint)
