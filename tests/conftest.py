import sys
from pathlib import Path

# tests import their helper modules (e.g. broken_workbooks) by name
sys.path.insert(0, str(Path(__file__).parent))
