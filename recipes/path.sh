# Sourced by every recipe's run.sh: work from the repository root and run the project's
# Python (PYTHON if set, else the .venv made by `make venv`, else python on PATH).
cd "$(dirname "${BASH_SOURCE[0]}")/.."
default_python=python
[[ -x .venv/bin/python ]] && default_python=.venv/bin/python
PYTHON=${PYTHON:-$default_python}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
