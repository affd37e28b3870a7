"""Curated geographic data for the theatre build: hubs, road/rail links, forests, rivers.

Everything here is hand-curated from the public record and general geography; each entry
carries a short source note. Coordinates are WGS84 (lon, lat). Hub names must match a node
name of the built theatre: a ``sim/data/places.csv`` name, or a GeoNames name for hubs
that are not in the CSV (then ``geonameid`` is given so the node is always present).

Capacity weights are relative throughput of a hub (1.0 = a large rail-and-road city
hub). They are a modelling judgement from the size of the city and the number of rail
lines meeting there, not measured tonnages.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Hub:
    """A logistics hub: name of its node, capacity weight, GeoNames id if not in places.csv."""

    name: str
    capacity: float
    source: str
    geonameid: int | None = None


# Ukrainian side (at the 2024 lines). Rail lines from the Ukrzaliznytsia network map
# (Southern, Donetsk and Prydniprovska railways); roles as in sim/data/places.csv.
HUBS_UA: tuple[Hub, ...] = (
    Hub(
        "Kharkiv",
        1.0,
        "Southern Railway HQ; junction of the Moscow-Simferopol and Kyiv-Donbas lines; M03/E40",
    ),
    Hub(
        "Dnipro",
        1.0,
        "Prydniprovska Railway HQ; Dnipro bridges; main depot city behind the Donbas front",
    ),
    Hub(
        "Zaporizhzhia",
        1.0,
        "Dnipro crossing; rail junction (Zaporizhzhia I/II); supply base for the Orikhiv axis",
    ),
    Hub(
        "Pavlohrad", 0.6, "rail junction Dnipro-Lozova/Pokrovsk; ammunition depots (press 2023-05)"
    ),
    Hub("Lozova", 0.6, "rail junction of the Kharkiv-Zaporizhzhia and Poltava-Donbas lines"),
    Hub("Izium", 0.5, "rail and M03 road node on the Siverskyi Donets"),
    Hub("Kupiansk", 0.6, "rail junction (Kupiansk-Vuzlovyi) on the Oskil; road P07/P79"),
    Hub("Lyman", 0.4, "Donetsk Railway junction north of Sloviansk"),
    Hub("Sloviansk", 0.7, "rail junction; M03 road"),
    Hub("Kramatorsk", 0.8, "largest Ukrainian-held city of Donetsk oblast; rail and road hub"),
    Hub("Kostiantynivka", 0.6, "rail junction and road hub behind Bakhmut/Chasiv Yar"),
    Hub(
        "Pokrovsk", 0.7, "rail junction and road hub (E50/M30, H15, H20) for the south Donbas front"
    ),
    Hub(
        "Kherson",
        0.6,
        "city and port on the right bank; Dnipro crossings (Antonivskyi bridges, destroyed 2022)",
    ),
    Hub("Sumy", 0.6, "oblast centre; rail and road hub behind the Kursk incursion (2024)", 692194),
)

# Russian side (at the 2024 lines). Rail lines from the Russian Railways / occupied
# Donetsk and Luhansk rail network; roles as in sim/data/places.csv.
HUBS_RU: tuple[Hub, ...] = (
    Hub("Kursk", 1.0, "oblast centre; Moscow-Kharkiv main line junction"),
    Hub("Belgorod", 1.0, "oblast centre; Moscow-Kharkiv main line; base for the Kharkiv axis"),
    Hub("Lgov", 0.3, "rail junction Kursk-Lgov-Vorozhba/Konotop"),
    Hub("Sudzha", 0.2, "small road hub on the Sumy-Kursk road (gas metering station)"),
    Hub(
        "Valuyki",
        0.4,
        "rail junction Liski-Valuyki-Kupiansk; supply for the Kupiansk-Svatove axis",
        477192,
    ),
    Hub("Svatove", 0.5, "rail and road node Kupiansk-Lysychansk line; P07 road"),
    Hub("Starobilsk", 0.4, "road node on the Luhansk-Svatove road"),
    Hub("Luhansk", 1.0, "city and rail hub of occupied Luhansk oblast"),
    Hub("Horlivka", 0.6, "rail node on the Debaltseve-Yasynuvata line"),
    Hub("Donetsk", 1.0, "Donetsk Railway HQ; largest occupied city of Donbas"),
    Hub("Yasynuvata", 0.7, "main rail junction north of Donetsk"),
    Hub("Volnovakha", 0.5, "rail junction Donetsk-Mariupol line"),
    Hub("Mariupol", 0.7, "port and rail hub; land bridge to Crimea"),
    Hub("Melitopol", 0.8, "rail and road hub of the land bridge (M14, M18)"),
    Hub("Tokmak", 0.5, "rail and road node behind the Orikhiv front (2023)"),
    Hub("Nova Kakhovka", 0.3, "Dnipro crossing (Kakhovka dam, destroyed 2023-06-06)"),
    Hub("Chaplynka", 0.5, "Crimea entry, Perekop route (M17/E97) north of Armiansk", 710935),
    Hub("Henichesk", 0.4, "Crimea entry, Chonhar route (M18/E105)", 708878),
)

HUBS: tuple[Hub, ...] = HUBS_UA + HUBS_RU

# Road/rail links between hubs along real routes. The build marks the theatre edges on
# the shortest path between the two hubs (road=True) instead of adding long edges.
# Sources: road numbering of the Ukrainian (M/H/P) and Russian (M/R/A) networks.
LINKS: tuple[tuple[str, str, str], ...] = (
    ("Kharkiv", "Kupiansk", "P07 road / Kharkiv-Kupiansk rail"),
    ("Kharkiv", "Izium", "M03/E40 road; Kharkiv-Balakliia-Izium rail"),
    ("Izium", "Sloviansk", "M03/E40 road"),
    ("Sloviansk", "Kramatorsk", "H20 road, Donetsk Railway"),
    ("Kramatorsk", "Kostiantynivka", "H20 road, rail via Druzhkivka"),
    ("Kostiantynivka", "Pokrovsk", "H20/T0504 road, rail"),
    ("Pokrovsk", "Pavlohrad", "E50/M30 road; Pokrovsk-Pavlohrad rail"),
    ("Pavlohrad", "Dnipro", "E50/M30 road; rail"),
    ("Dnipro", "Zaporizhzhia", "H08 road; rail"),
    ("Lozova", "Pavlohrad", "Kharkiv-Dnipro rail via Lozova"),
    ("Kharkiv", "Lozova", "M18/E105 road; Kharkiv-Lozova rail"),
    ("Kupiansk", "Izium", "P79/T2110 road along the Oskil"),
    ("Lyman", "Sloviansk", "Donetsk Railway; T0514 road"),
    ("Kharkiv", "Sumy", "road via Bohodukhiv and Krasnopillia (route approximate)"),
    ("Zaporizhzhia", "Pavlohrad", "M18 road via Synelnykove"),
    ("Kupiansk", "Svatove", "P07 road; Kupiansk-Svatove rail"),
    ("Svatove", "Starobilsk", "P66 road"),
    ("Starobilsk", "Luhansk", "H21 road"),
    ("Valuyki", "Svatove", "Valuyki-Troitske-Svatove road"),
    ("Belgorod", "Valuyki", "Belgorod-Valuyki rail and road"),
    ("Luhansk", "Horlivka", "M04/E40 road via Debaltseve"),
    ("Horlivka", "Yasynuvata", "Debaltseve-Yasynuvata rail; H20 road"),
    ("Yasynuvata", "Donetsk", "H20 road; rail"),
    ("Horlivka", "Donetsk", "H20 road"),
    ("Donetsk", "Volnovakha", "H20 road; Donetsk-Mariupol rail"),
    ("Volnovakha", "Mariupol", "H20 road; rail"),
    ("Mariupol", "Melitopol", "M14/E58 road (land bridge)"),
    ("Melitopol", "Tokmak", "Melitopol-Tokmak rail; T0401 road"),
    ("Melitopol", "Nova Kakhovka", "M14/E58 road"),
    ("Melitopol", "Henichesk", "M18/E105 road to Chonhar"),
    ("Nova Kakhovka", "Chaplynka", "P47 road to the Perekop isthmus"),
    ("Belgorod", "Kursk", "M2/E105 road; Moscow-Kharkiv rail"),
    ("Kursk", "Lgov", "R199 road; Kursk-Lgov rail"),
    ("Kursk", "Sudzha", "R200 road"),
    ("Lgov", "Sudzha", "local roads via Korenevo (route approximate)"),
    ("Sumy", "Sudzha", "Sumy-Yunakivka-Sudzha road (Kursk incursion axis, 2024-08)"),
)


@dataclass(frozen=True)
class Forest:
    """A forest area approximated by a circle (centre lon, lat; radius km)."""

    name: str
    lon: float
    lat: float
    radius_km: float
    source: str


FORESTS: tuple[Forest, ...] = (
    Forest(
        "Serebrianka forest",
        38.10,
        48.98,
        8.0,
        "Serebrianske forestry between Kreminna and the Siverskyi Donets (ISW daily assessments 2023)",
    ),
    Forest(
        "Sviatohirsk / Holy Mountains forest",
        37.66,
        49.03,
        9.0,
        "Holy Mountains National Nature Park (about 40,000 ha) along the Donets, Sviatohirsk-Lyman",
    ),
    Forest(
        "Kreminna-Lyman pine forests",
        37.95,
        49.07,
        6.0,
        "pine forests north of the Donets between Lyman and Kreminna (Torske, Yampil)",
    ),
    Forest(
        "Homilsha forests",
        36.33,
        49.61,
        7.0,
        "Homilshanski Lisy National Nature Park on the Donets near Zmiiv",
    ),
)


@dataclass(frozen=True)
class River:
    """A river traced through basemap ``rivers_f.dat`` along curated points of its course."""

    name: str
    river_class: int  # 1 Siverskyi Donets/Oskil class, 2 Dnipro
    course: tuple[tuple[float, float], ...]
    source: str


# The Dnipro is not in rivers_f.dat inside the theatre: GSHHS stores it (with the
# Kakhovka, Kamianske and Dnipro reservoirs) as a level-2 lake polygon; the build picks
# the lake polygon that contains these points.
DNIPRO_POINTS: tuple[tuple[float, float], ...] = (
    (34.0, 47.45),
    (35.12, 47.9),
)  # Kakhovka res., Zaporizhzhia

# Below Kherson the polygon ends; the main channel (rivers_f segment and the delta as
# drawn by DeepState's line) runs to the Dnipro-Buh estuary along these points.
DNIPRO_DELTA: tuple[tuple[float, float], ...] = (
    (32.67, 46.655),
    (32.62, 46.625),
    (32.585, 46.60),
    (32.55, 46.555),
    (32.50, 46.535),
    (32.45, 46.51),
    (32.42, 46.49),
    (32.38, 46.46),
)

RIVERS: tuple[River, ...] = (
    River(
        "Siverskyi Donets",
        1,
        (
            (36.60, 50.60),  # Belgorod
            (36.80, 50.07),  # Staryi Saltiv (Pechenihy reservoir)
            (36.69, 49.84),  # Chuhuiv
            (36.84, 49.46),  # Balakliia
            (37.28, 49.21),  # Izium
            (37.57, 49.03),  # Sviatohirsk
            (38.42, 48.92),  # Lysychansk
            (39.70, 48.55),  # east of Stanytsia Luhanska, into Russia
        ),
        "course through the named towns (general geography)",
    ),
    River(
        "Oskil",
        1,
        (
            (37.68, 49.85),  # Dvorichna
            (37.62, 49.71),  # Kupiansk
            (37.63, 49.38),  # Borova (Oskil reservoir)
        ),
        "course through the named towns (general geography)",
    ),
)

# Pre-war populations for places whose GeoNames figure is badly wrong (see the shared data
# README): State Statistics Service of Ukraine, estimate of 2022-01-01.
POPULATION_FIX: dict[int, int] = {
    706448: 279_131,  # Kherson (GeoNames: 66,000)
    701822: 425_681,  # Mariupol (GeoNames: 230,000)
}

# Oblasts of the theatre by GeoNames admin1 code (checked against cities500: Kharkiv 07,
# Donetsk 05, Luhansk 14, Zaporizhzhia 26, Kherson 08, Dnipro 04, Sumy 21; Kursk 41, Belgorod 09).
OBLASTS_UA: dict[str, str] = {
    "07": "Kharkiv",
    "14": "Luhansk",
    "05": "Donetsk",
    "26": "Zaporizhzhia",
    "08": "Kherson",
    "04": "Dnipropetrovsk",
    "21": "Sumy",
}
OBLASTS_RU: dict[str, str] = {"41": "Kursk", "09": "Belgorod"}

# Crimea is cut off along the oblast line: Perekop isthmus (about 46.17 N), the Chonhar
# strait and the Arabat spit (about 45.83 N). Anything south of this polyline is dropped.
CRIMEA_CUT: tuple[tuple[float, float], ...] = (
    (32.0, 44.0),
    (32.0, 46.17),
    (33.95, 46.17),
    (34.30, 46.02),
    (34.60, 45.96),
    (35.00, 45.86),
    (35.20, 45.83),
    (37.2, 45.83),
    (37.2, 44.0),
)
