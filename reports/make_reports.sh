#!/usr/bin/env bash
# Re-make every scenario report in reports/ (issue #4), as the README's "Scenario analyses"
# section gives the commands: 200 replications per arm, batch seed 1. About 70 minutes on 2
# cores. Batch outputs go to out/ (not committed; a killed run resumes where it stopped);
# reports/ gets the Markdown and PNG figures.
set -euo pipefail
cd "$(dirname "$0")/.."
F="${FRONTLINE:-.venv/bin/frontline}"
R=200

$F batch kursk_counterfactual --replications $R --seed 1 --out out/kursk_counterfactual
$F batch kursk_2024 --replications $R --seed 1 --out out/kursk_2024
$F report out/kursk_counterfactual out/kursk_2024 --out reports/kursk \
    --places Kurakhove,Pokrovsk,Sudzha --dates 2024-08-20,2024-09-30,2024-11-20,2025-03-16

$F batch hubs_2025 --replications $R --seed 1 --out out/hubs_2025
$F report out/hubs_2025 --out reports/hubs_2025 \
    --places Kurakhove,Pokrovsk,Kupiansk,Kramatorsk --dates 2025-03-01,2025-06-01,2025-09-01,2025-12-31

$F batch ceasefire --replications $R --seed 1 --out out/ceasefire
$F report out/ceasefire --out reports/ceasefire \
    --dates 2025-01-20,2025-03-20,2025-05-20,2025-08-20,2025-11-20

$F sweep line_stretch --design grid --param ukraine_unit_personnel=600:1400 --samples 9 \
    --replications $R --seed 1 --out out/line_stretch
$F report out/line_stretch --out reports/line_stretch
# a finer grid across the transition the first sweep found
$F sweep line_stretch --design grid --param ukraine_unit_personnel=900:1100 --samples 9 \
    --replications $R --seed 1 --out out/line_stretch_fine
$F report out/line_stretch_fine --out reports/line_stretch_fine
