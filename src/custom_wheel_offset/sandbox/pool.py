"""The real makes and models the sandbox catalogue draws from, and the preference options.

Each model carries plausible factory data: bolt pattern (millimetre and inch
forms that really are the same pattern), centre bore, lug hardware, factory
wheel diameters, a base width and offset, and how often a trim is staggered.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "BODY_STYLES",
    "BOLT_PATTERNS",
    "OPTIONS",
    "POOL",
    "SUSPENSION_WEIGHT",
    "VEHICLE_TYPES",
    "ModelEntry",
]

#: millimetre form -> inch form, as the fitment API spells them
BOLT_PATTERNS: dict[str, str] = {
    "4x100": "4x3.94",
    "4x108": "4x4.25",
    "5x100": "5x3.94",
    "5x108": "5x4.25",
    "5x112": "5x4.41",
    "5x114.3": "5x4.5",
    "5x115": "5x4.53",
    "5x120": "5x4.72",
    "5x127": "5x5",
    "5x130": "5x5.12",
    "5x150": "5x5.91",
    "6x114.3": "6x4.5",
    "6x135": "6x5.31",
    "6x139.7": "6x5.5",
    "8x165.1": "8x6.5",
    "8x170": "8x6.69",
    "8x180": "8x7.09",
}

VEHICLE_TYPES: tuple[str, ...] = ("Car", "SUV", "Truck")

#: the store's preference options per vehicle type: (suspension, trimming, rubbing)
OPTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "Car": (
        ("Stock Suspension", 'Lowering Springs 1-2"', "Coilovers / Air Suspension"),
        ("No Modification", "Minor Plastic Trimming"),
        ("No rubbing or scrubbing", "Slight rub at full turn"),
    ),
    "SUV": (
        ("Stock Suspension", "Leveling Kit", 'Lifted 1-2"', 'Lifted 2-4"'),
        ("No Modification", "Minor Plastic Trimming"),
        ("No rubbing or scrubbing", "Slight rub at full turn"),
    ),
    "Truck": (
        ("Stock Suspension", "Leveling Kit", 'Lifted 2-4"', 'Lifted 4"+'),
        ("No Modification", "Minor Plastic Trimming", "Major Plastic & Metal Trimming"),
        ("No rubbing or scrubbing", "Slight rub at full turn", "Significant rubbing & scrubbing"),
    ),
}

#: how much each suspension choice opens up the fitment range (same order as OPTIONS)
SUSPENSION_WEIGHT: dict[str, tuple[float, ...]] = {
    "Car": (0.0, -0.5, 0.5),
    "SUV": (0.0, 1.0, 1.5, 2.5),
    "Truck": (0.0, 1.0, 2.0, 3.5),
}

#: body or cab styles appended to trims on larger catalogues ("XLT SuperCrew")
BODY_STYLES: dict[str, tuple[str, ...]] = {
    "Car": ("Sedan", "Coupe", "Hatchback"),
    "SUV": ("4-Door", "2-Door"),
    "Truck": ("Regular Cab", "Extended Cab", "Crew Cab"),
}


@dataclass(frozen=True, slots=True)
class ModelEntry:
    """One real model and its factory data."""

    make: str
    model: str
    vehicle_type: str
    trims: tuple[str, ...]
    drives: tuple[str, ...]
    bolt_mm: str
    hub: float
    lug_type: str
    lug_size: str
    diameters: tuple[int, ...]
    width: float
    offset: int
    stagger: float = 0.0
    since: int = 1990
    until: int = 2100

    @property
    def bolt_in(self) -> str:
        return BOLT_PATTERNS[self.bolt_mm]


def _m(make: str, model: str, vtype: str, trims: str, drives: str, bolt: str, hub: float,
       lug: str, diameters: tuple[int, ...], width: float, offset: int, stagger: float = 0.0,
       since: int = 1990, until: int = 2100) -> ModelEntry:
    lug_type, lug_size = lug.split(":", 1)
    return ModelEntry(make, model, vtype, tuple(trims.split("|")), tuple(drives.split("|")),
                      bolt, hub, lug_type, lug_size, diameters, width, offset, stagger, since,
                      until)


NUT = "Lug Nut:"
BOLT = "Lug Bolt:"

POOL: tuple[ModelEntry, ...] = (
    _m("Toyota", "Camry", "Car", "LE|SE|XLE|XSE|TRD|Nightshade", "FWD|AWD", "5x114.3", 60.1,
       NUT + "M12 x 1.5", (16, 17, 18, 19), 7.0, 40),
    _m("Toyota", "Corolla", "Car", "L|LE|SE|XSE|Apex Edition", "FWD", "5x100", 54.1,
       NUT + "M12 x 1.5", (15, 16, 18), 6.5, 39),
    _m("Toyota", "RAV4", "SUV", "LE|XLE|XLE Premium|Adventure|TRD Off-Road|Limited", "FWD|AWD",
       "5x114.3", 60.1, NUT + "M12 x 1.5", (17, 18, 19), 7.0, 35),
    _m("Toyota", "Tacoma", "Truck", "SR|SR5|TRD Sport|TRD Off-Road|Limited|TRD Pro", "2WD|4WD",
       "6x139.7", 106.1, NUT + "M12 x 1.5", (16, 17, 18), 7.0, 30),
    _m("Toyota", "Tundra", "Truck", "SR|SR5|Limited|Platinum|1794 Edition|TRD Pro", "2WD|4WD",
       "5x150", 110.1, NUT + "M14 x 1.5", (18, 20), 8.0, 50),
    _m("Toyota", "4Runner", "SUV", "SR5|TRD Off-Road|Limited|TRD Pro|Nightshade", "2WD|4WD",
       "6x139.7", 106.1, NUT + "M12 x 1.5", (17, 20), 7.0, 15),
    _m("Ford", "F-150", "Truck", "XL|XLT|Lariat|King Ranch|Platinum|Raptor|Tremor", "2WD|4WD",
       "6x135", 87.1, NUT + "M14 x 1.5", (17, 18, 20, 22), 7.5, 44),
    _m("Ford", "F-250/350 Super Duty", "Truck", "XL|XLT|Lariat|King Ranch|Platinum|Limited",
       "2WD|4WD", "8x170", 124.9, NUT + "M14 x 2.0", (17, 18, 20), 7.5, 45),
    _m("Ford", "Mustang", "Car", "EcoBoost|EcoBoost Premium|GT|GT Premium|Mach 1|Dark Horse",
       "RWD", "5x114.3", 70.5, NUT + "M14 x 1.5", (17, 18, 19), 8.0, 45, stagger=0.5),
    _m("Ford", "Explorer", "SUV", "Base|XLT|Limited|ST|Platinum|Timberline", "RWD|4WD",
       "5x114.3", 63.4, NUT + "M14 x 1.5", (18, 20, 21), 8.0, 45, stagger=0.1),
    _m("Ford", "Bronco", "SUV", "Base|Big Bend|Black Diamond|Outer Banks|Badlands|Wildtrak",
       "4WD", "6x139.7", 93.1, NUT + "M14 x 1.5", (16, 17, 18), 7.5, 30, since=2021),
    _m("Ford", "Ranger", "Truck", "XL|XLT|Lariat|Raptor", "2WD|4WD", "6x139.7", 93.1,
       NUT + "M12 x 1.5", (16, 17, 18), 7.5, 55),
    _m("Chevrolet", "Silverado 1500", "Truck",
       "WT|Custom|LT|RST|LT Trail Boss|LTZ|High Country|ZR2", "2WD|4WD", "6x139.7", 78.1,
       NUT + "M14 x 1.5", (17, 18, 20, 22), 8.0, 28),
    _m("Chevrolet", "Silverado 2500 HD", "Truck", "WT|Custom|LT|LTZ|High Country|ZR2",
       "2WD|4WD", "8x180", 124.1, NUT + "M14 x 1.5", (17, 18, 20), 7.5, 28),
    _m("Chevrolet", "Camaro", "Car", "1LS|1LT|2LT|1SS|2SS|ZL1", "RWD", "5x120", 66.9,
       NUT + "M14 x 1.5", (18, 20), 8.5, 23, stagger=0.7, until=2024),
    _m("Chevrolet", "Corvette", "Car", "Stingray 1LT|Stingray 2LT|Stingray 3LT|Z06", "RWD",
       "5x120", 70.3, NUT + "M14 x 1.5", (19,), 8.5, 40, stagger=0.95),
    _m("Chevrolet", "Tahoe", "SUV", "LS|LT|RST|Z71|Premier|High Country", "2WD|4WD",
       "6x139.7", 78.1, NUT + "M14 x 1.5", (18, 20, 22), 8.5, 28),
    _m("Chevrolet", "Equinox", "SUV", "LS|LT|RS|Premier", "FWD|AWD", "5x115", 70.3,
       NUT + "M14 x 1.5", (17, 18, 19), 7.0, 40),
    _m("Honda", "Civic", "Car", "LX|Sport|EX|EX-L|Touring|Si|Type R", "FWD", "5x114.3", 64.1,
       NUT + "M12 x 1.5", (16, 17, 18), 7.0, 45),
    _m("Honda", "Accord", "Car", "LX|Sport|EX|EX-L|Touring", "FWD", "5x114.3", 64.1,
       NUT + "M12 x 1.5", (17, 19), 7.5, 45),
    _m("Honda", "CR-V", "SUV", "LX|EX|EX-L|Sport|Sport Touring", "FWD|AWD", "5x114.3", 64.1,
       NUT + "M12 x 1.5", (17, 18, 19), 7.5, 45),
    _m("Honda", "Pilot", "SUV", "Sport|EX-L|Touring|TrailSport|Elite", "FWD|AWD", "5x120",
       64.1, NUT + "M14 x 1.5", (18, 20), 8.0, 55),
    _m("Honda", "Ridgeline", "Truck", "Sport|RTL|RTL-E|Black Edition|TrailSport", "AWD",
       "5x120", 64.1, NUT + "M14 x 1.5", (18,), 8.0, 55, since=2006),
    _m("BMW", "3 Series", "Car", "330i|330i xDrive|M340i|M340i xDrive|330e", "RWD|AWD",
       "5x112", 66.6, BOLT + "M14 x 1.25", (17, 18, 19), 7.5, 30, stagger=0.6),
    _m("BMW", "M4", "Car", "Base|Competition|Competition xDrive|CSL", "RWD|AWD", "5x112", 66.6,
       BOLT + "M14 x 1.25", (18, 19), 9.5, 20, stagger=0.95, since=2015),
    _m("BMW", "X3", "SUV", "sDrive30i|xDrive30i|M40i", "RWD|AWD", "5x120", 72.6,
       BOLT + "M14 x 1.25", (18, 19, 20), 8.0, 43, stagger=0.3),
    _m("BMW", "X5", "SUV", "sDrive40i|xDrive40i|xDrive50e|M60i", "RWD|AWD", "5x112", 66.6,
       BOLT + "M14 x 1.25", (19, 20, 21), 9.0, 35, stagger=0.6),
    _m("Subaru", "WRX", "Car", "Base|Premium|Limited|GT|tS", "AWD", "5x114.3", 56.1,
       NUT + "M12 x 1.25", (17, 18), 8.5, 55),
    _m("Subaru", "Outback", "SUV", "Base|Premium|Onyx Edition|Limited|Touring|Wilderness",
       "AWD", "5x114.3", 56.1, NUT + "M12 x 1.25", (17, 18), 7.0, 55),
    _m("Subaru", "Forester", "SUV", "Base|Premium|Sport|Limited|Touring|Wilderness", "AWD",
       "5x100", 56.1, NUT + "M12 x 1.25", (17, 18), 7.0, 48),
    _m("Subaru", "BRZ", "Car", "Premium|Limited|tS", "RWD", "5x100", 56.1,
       NUT + "M12 x 1.25", (17, 18), 7.5, 48, since=2013),
    _m("Ram", "1500", "Truck", "Tradesman|Big Horn|Laramie|Rebel|Limited|TRX", "2WD|4WD",
       "6x139.7", 77.8, NUT + "M14 x 1.5", (18, 20, 22), 8.0, 19),
    _m("Ram", "2500", "Truck", "Tradesman|Big Horn|Laramie|Power Wagon|Limited", "2WD|4WD",
       "8x165.1", 121.3, NUT + "M14 x 1.5", (17, 18, 20), 8.0, 51),
    _m("Ram", "3500", "Truck", "Tradesman|Big Horn|Laramie|Limited", "2WD|4WD", "8x165.1",
       121.3, NUT + "M14 x 1.5", (17, 18, 20), 6.0, 51),
    _m("Mercedes-Benz", "C-Class", "Car", "C 300|C 300 4MATIC|AMG C 43|AMG C 63 S", "RWD|AWD",
       "5x112", 66.6, BOLT + "M14 x 1.5", (17, 18, 19), 7.5, 44, stagger=0.7),
    _m("Mercedes-Benz", "G-Class", "SUV", "G 550|AMG G 63", "AWD", "5x130", 84.1,
       BOLT + "M14 x 1.5", (19, 20, 22), 9.5, 50),
    _m("Mercedes-Benz", "GLE", "SUV", "GLE 350|GLE 450|AMG GLE 53", "RWD|AWD", "5x112", 66.6,
       BOLT + "M14 x 1.5", (19, 20, 21), 8.5, 48, stagger=0.5),
    _m("Škoda", "Octavia", "Car", "Active|Ambition|Style|RS|Laurin & Klement", "FWD|AWD",
       "5x112", 57.1, BOLT + "M14 x 1.5", (16, 17, 18, 19), 7.0, 46),
    _m("Škoda", "Kodiaq", "SUV", "Active|Ambition|Style|Sportline|RS", "FWD|AWD", "5x112", 57.1,
       BOLT + "M14 x 1.5", (17, 18, 19, 20), 7.0, 40, since=2017),
    _m("Citroën", "C4", "Car", "Feel|Shine|C-Series", "FWD", "4x108", 65.1,
       BOLT + "M12 x 1.25", (15, 16, 17, 18), 6.5, 25),
    _m("Citroën", "C5 Aircross", "SUV", "Feel|Shine|Shine Plus", "FWD", "5x108", 65.1,
       BOLT + "M14 x 1.25", (17, 18, 19), 7.5, 44, since=2019),
    _m("Renault", "Clio", "Car", "Zen|Intens|R.S. Line", "FWD", "4x100", 60.1,
       BOLT + "M12 x 1.5", (15, 16, 17), 6.5, 40),
    _m("Renault", "Mégane R.S.", "Car", "Sport|Cup|Trophy", "FWD", "5x114.3", 66.1,
       BOLT + "M14 x 1.5", (18, 19), 8.0, 50, stagger=0.2),
    _m("Jeep", "Wrangler", "SUV", "Sport|Sport S|Willys|Sahara|Rubicon|Rubicon 392", "4WD",
       "5x127", 71.5, NUT + '1/2"-20', (17, 18), 7.5, 44),
    _m("Jeep", "Gladiator", "Truck", "Sport|Sport S|Willys|Overland|Mojave|Rubicon", "4WD",
       "5x127", 71.5, NUT + '1/2"-20', (17, 18), 7.5, 44, since=2020),
    _m("Jeep", "Grand Cherokee", "SUV", "Laredo|Limited|Overland|Summit|Trailhawk", "RWD|4WD",
       "5x127", 71.5, NUT + '1/2"-20', (18, 20, 21), 8.0, 34, stagger=0.1),
    _m("Mazda", "MX-5 Miata", "Car", "Sport|Club|Grand Touring", "RWD", "4x100", 54.1,
       NUT + "M12 x 1.5", (16, 17), 7.0, 45),
    _m("Mazda", "CX-5", "SUV", "S|S Select|S Preferred|S Premium|Turbo Signature", "FWD|AWD",
       "5x114.3", 67.1, NUT + "M12 x 1.5", (17, 19), 7.0, 45, since=2013),
    _m("Mazda", "3", "Car", "2.5 S|2.5 S Select|2.5 S Premium|2.5 Turbo", "FWD|AWD",
       "5x114.3", 67.1, NUT + "M12 x 1.5", (16, 18), 7.0, 45),
    _m("Nissan", "Frontier", "Truck", "S|SV|PRO-4X|PRO-X", "2WD|4WD", "6x114.3", 66.1,
       NUT + "M12 x 1.25", (16, 17, 18), 7.0, 30),
    _m("Nissan", "Titan", "Truck", "S|SV|PRO-4X|Platinum Reserve", "2WD|4WD", "6x139.7", 77.8,
       NUT + "M14 x 1.5", (18, 20), 8.0, 25, since=2004),
    _m("Nissan", "370Z", "Car", "Base|Sport|Touring|Nismo", "RWD", "5x114.3", 66.1,
       NUT + "M12 x 1.25", (18, 19), 8.0, 43, stagger=0.6, since=2009, until=2020),
    _m("Tesla", "Model 3", "Car", "Standard Range Plus|Long Range|Performance", "RWD|AWD",
       "5x114.3", 64.1, NUT + "M14 x 1.5", (18, 19, 20), 8.5, 40, stagger=0.3, since=2017),
    _m("Tesla", "Model Y", "SUV", "Long Range|Performance", "AWD", "5x114.3", 64.1,
       NUT + "M14 x 1.5", (19, 20, 21), 9.5, 45, stagger=0.5, since=2020),
    _m("Volkswagen", "Golf GTI", "Car", "S|SE|Autobahn|380", "FWD", "5x112", 57.1,
       BOLT + "M14 x 1.5", (17, 18, 19), 7.5, 49),
    _m("Volkswagen", "Atlas", "SUV", "SE|SEL|SEL Premium|Cross Sport", "FWD|AWD", "5x112", 57.1,
       BOLT + "M14 x 1.5", (18, 20, 21), 8.0, 40, since=2018),
    _m("GMC", "Sierra 1500", "Truck", "Pro|SLE|Elevation|SLT|AT4|Denali", "2WD|4WD",
       "6x139.7", 78.1, NUT + "M14 x 1.5", (17, 18, 20, 22), 8.0, 28),
    _m("GMC", "Sierra 3500 HD", "Truck", "Pro|SLE|SLT|AT4|Denali", "2WD|4WD", "8x180", 124.1,
       NUT + "M14 x 1.5", (17, 18, 20), 7.5, 28),
    _m("Hyundai", "Elantra", "Car", "SE|SEL|Limited|N Line|N", "FWD", "5x114.3", 67.1,
       NUT + "M12 x 1.5", (15, 16, 17, 18), 7.0, 50),
    _m("Hyundai", "Santa Cruz", "Truck", "SE|SEL|Night|XRT|Limited", "FWD|AWD", "5x114.3", 67.1,
       NUT + "M12 x 1.5", (18, 20), 7.5, 50, since=2022),
    _m("Kia", "Stinger", "Car", "GT-Line|GT1|GT2", "RWD|AWD", "5x114.3", 67.1,
       NUT + "M12 x 1.5", (18, 19), 8.0, 40, stagger=0.9, since=2018, until=2023),
    _m("Kia", "Telluride", "SUV", "LX|S|EX|SX|SX X-Pro", "FWD|AWD", "5x114.3", 67.1,
       NUT + "M12 x 1.5", (18, 20), 7.5, 50, since=2020),
    _m("Dodge", "Challenger", "Car", "SXT|GT|R/T|R/T Scat Pack|SRT Hellcat", "RWD|AWD",
       "5x115", 71.5, NUT + "M14 x 1.5", (18, 20), 8.0, 20, stagger=0.6, since=2008, until=2023),
    _m("Dodge", "Charger", "Car", "SXT|GT|R/T|Scat Pack|SRT Hellcat", "RWD|AWD", "5x115", 71.5,
       NUT + "M14 x 1.5", (18, 20), 8.0, 20, stagger=0.5),
    _m("Audi", "A4", "Car", "Premium|Premium Plus|Prestige|S4", "FWD|AWD", "5x112", 66.5,
       BOLT + "M14 x 1.5", (17, 18, 19), 7.5, 39, stagger=0.25),
    _m("Audi", "Q5", "SUV", "Premium|Premium Plus|Prestige|SQ5", "AWD", "5x112", 66.5,
       BOLT + "M14 x 1.5", (18, 19, 20), 8.0, 39, stagger=0.2),
)
