"""The schema as numbered SQL files (``NNNN_name.sql``), applied in order by ``migrate``."""
