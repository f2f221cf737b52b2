#!/usr/bin/env bash
# The unit tests against the oldest dependencies pyproject.toml declares: a throwaway
# venv installs the package with each floor `name>=X.Y` pinned to `name==X.Y.*` (the
# newest patch of that release, the one most likely to have wheels for this Python),
# then runs the tests that need no built book. IPython, Jupyter and the data download
# are not dependencies of the package, so their tests skip.
#
#   .ci/oldest_versions.sh                        # the declared floors, torch included
#   OLDEST_TORCH='torch==2.13.*' .ci/oldest_versions.sh   # another torch (e.g. a CPU wheel)
#
# PyPI's Linux wheels of torch < 2.13 bring CUDA libraries (gigabytes); where the
# machine holds an older CPU wheel, OLDEST_TORCH names it.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$SECONDS

"$PYTHON" - pyproject.toml >"$tmp/floors.txt" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
deps = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M).group(1)
for name, floor in re.findall(r'"([A-Za-z0-9_.-]+)>=([0-9]+(?:\.[0-9]+)?)', deps):
    print(f"{name}=={floor}.*")
EOF
if [ -n "${OLDEST_TORCH:-}" ]; then
    sed -i "s/^torch==.*/$OLDEST_TORCH/" "$tmp/floors.txt"
fi
echo "::: floors: $(tr '\n' ' ' <"$tmp/floors.txt")"

# A copy of the package, so that pip leaves no build/ or .egg-info in the checkout.
mkdir "$tmp/src"
cp -r condense_lib pyproject.toml README.md "$tmp/src/"
"$PYTHON" -m venv "$tmp/venv"
"$tmp/venv/bin/python" -m pip install -q --progress-bar off -c "$tmp/floors.txt" "$tmp/src" pytest
"$tmp/venv/bin/python" -m pip list --format=freeze | grep -iE '^(torch|numpy|scipy|matplotlib|tqdm)=='
echo "::: installed in $((SECONDS - start))s"

# From outside the checkout, so the tests import the installed package.
cd tests
MPLBACKEND=Agg "$tmp/venv/bin/python" -m pytest -q -p no:cacheprovider --rootdir=. \
    test_activations.py test_condensation.py test_data_matrix.py test_linear_dynamics.py \
    test_effective_time.py test_losses.py test_models.py test_two_layer.py test_train.py \
    test_config.py test_colab.py test_set_repository.py "$@"
echo "::: oldest versions took $((SECONDS - start))s"
