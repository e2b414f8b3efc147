"""`python -m custom_wheel_offset` is the `cwo` command."""

from custom_wheel_offset.cli import main

if __name__ == "__main__":
    main()
