"""`make reports`: the named reports `make migrate ACTION=report NAME=..` runs, with what each shows."""

from __future__ import annotations

from migrator.sqlaction.reports import REPORTS


def main() -> int:
    width = max(len(name) for name in REPORTS)
    for name, report in REPORTS.items():
        print(f"  {name:<{width}}  {report.description}")
    print("\nRun one: make migrate ACTION=report NAME=locks (FORMAT is JSON, like every make migrate result)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
