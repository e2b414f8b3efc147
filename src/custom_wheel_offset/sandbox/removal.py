"""Vehicles the sandbox's catalogue no longer has (``SandboxConfig.remove_vehicles``).

A site withdraws vehicles; cwo marks them gone (docs/resilience.md, "Gone").
The sandbox imitates that with a set of vehicles, chosen by the seed, that the
server leaves out (their drives listing omits them, their vehicle URL answers
404, their fitment pages carry no data) and the ground truth leaves out too.
The catalogue itself is unchanged: the filter sits where the server answers
and where the truth enumerates.
"""

from __future__ import annotations

import random

from custom_wheel_offset.errors import ConfigError
from custom_wheel_offset.protocol.records import VehicleId
from custom_wheel_offset.sandbox.catalogue import Catalogue

__all__ = ["removed_vehicles"]


def removed_vehicles(catalogue: Catalogue, count: int) -> frozenset[VehicleId]:
    """``count`` vehicles of the catalogue, the same ones for the same size and seed."""
    if count <= 0:
        return frozenset()
    every = list(catalogue.iter_vehicle_ids())
    if count > len(every):
        raise ConfigError(
            f"remove_vehicles is {count}, but the {catalogue.size} catalogue has "
            f"{len(every)} vehicles"
        )
    # A string seed is hashed the same way on every run and platform.
    return frozenset(random.Random(f"remove-vehicles:{catalogue.seed}").sample(every, count))
