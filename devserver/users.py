"""Manage staff accounts and API tokens from the server's console: `python -m devserver.users ...`.

    add NAME --role teacher|researcher|admin   create an account (asks for the password twice)
    passwd NAME                                 set a new password (ends the account's logins)
    remove NAME                                 delete an account with its logins and tokens
    list                                        list the accounts
    token NAME [--label TEXT]                   create a bearer token acting as NAME (printed once)
    tokens                                      list the tokens (never their secrets)
    revoke ID                                   revoke a token

`--password-stdin` reads the password from one line of standard input (for scripts). Works on the
same data folder as the server (DATA_DIR) and may run while the server runs.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from typing import Sequence

from config import Config
from devserver.access.accounts import STAFF_ROLES, Accounts
from devserver.access.db import AccessDB
from devserver.errors import AppError


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat it: ") != first:
        raise AppError("The two passwords differ; nothing was changed.", code="password_mismatch")
    return first


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m devserver.users", description="Staff accounts and API tokens.")
    commands = parser.add_subparsers(dest="command", required=True)
    add = commands.add_parser("add", help="create an account")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=STAFF_ROLES)
    add.add_argument("--password-stdin", action="store_true")
    passwd = commands.add_parser("passwd", help="set a new password")
    passwd.add_argument("name")
    passwd.add_argument("--password-stdin", action="store_true")
    commands.add_parser("remove", help="delete an account").add_argument("name")
    commands.add_parser("list", help="list the accounts")
    token = commands.add_parser("token", help="create a bearer token acting as an account")
    token.add_argument("name")
    token.add_argument("--label", default="")
    commands.add_parser("tokens", help="list the tokens")
    commands.add_parser("revoke", help="revoke a token").add_argument("id", type=int)
    return parser


def _add(args: argparse.Namespace, accounts: Accounts) -> str:
    user = accounts.add(args.name, args.role, _password(args.password_stdin))
    return f"created {user.role} {user.name!r}"


def _passwd(args: argparse.Namespace, accounts: Accounts) -> str:
    accounts.set_password(args.name, _password(args.password_stdin))
    return f"new password set for {args.name!r}; its logins have ended"


def _remove(args: argparse.Namespace, accounts: Accounts) -> str:
    accounts.remove(args.name)
    return f"removed {args.name!r}"


def _list(args: argparse.Namespace, accounts: Accounts) -> str:
    return "\n".join(f"{u.name}\t{u.role}" for u in accounts.list()) or "(no accounts)"


def _token(args: argparse.Namespace, accounts: Accounts) -> str:
    token_id, secret = accounts.create_token(args.name, args.label)
    return f"token {token_id} for {args.name!r} (shown only now):\n{secret}"


def _tokens(args: argparse.Namespace, accounts: Accounts) -> str:
    lines = [f"{t['id']}\t{t['user']}\t{t['label']}\tcreated {t['created_at']}\t"
             f"{'revoked ' + t['revoked_at'] if t['revoked_at'] else 'active'}" for t in accounts.tokens()]
    return "\n".join(lines) or "(no tokens)"


def _revoke(args: argparse.Namespace, accounts: Accounts) -> str:
    accounts.revoke_token(args.id)
    return f"revoked token {args.id}"


COMMANDS = {"add": _add, "passwd": _passwd, "remove": _remove, "list": _list, "token": _token, "tokens": _tokens,
            "revoke": _revoke}


def run(argv: Sequence[str], accounts: Accounts) -> str:
    """Execute one command and return what to print."""
    args = _parser().parse_args(argv)
    return COMMANDS[args.command](args, accounts)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line against the configured data folder."""
    db = AccessDB(Config.from_env().data_dir() / "access.sqlite")
    try:
        print(run(sys.argv[1:] if argv is None else argv, Accounts(db)))
    except AppError as err:
        print(f"error: {err.message}", file=sys.stderr)
        return 1
    finally:
        db.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
