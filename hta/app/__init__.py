"""The application: the ``hta`` command line and scenario scripts."""
