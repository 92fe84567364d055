"""``python -m lsvd`` lists the toolkit's commands."""

from lsvd.cli import COMMANDS

print("LSVD toolkit commands:")
for command, what in COMMANDS.items():
    print(f"  {command:30s} {what}")
print("Run any of them with --help. They share --root, -o/--output, --device, -v/-q, --threads and --no-progress.")
