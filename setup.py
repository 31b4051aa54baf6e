"""Package discovery (the rest of the configuration is in pyproject.toml).

Every ``hta`` subpackage is found automatically; the repository's ``models/`` folder is installed
as ``hta_models`` so that the installed name cannot collide with another project's ``models``.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["hta", "hta.*"]) + ["hta_models"],
    package_dir={"hta_models": "models"},
)
