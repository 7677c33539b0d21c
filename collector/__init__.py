"""Exchange market-data collector: exact normalized order books and trades to Parquet."""

__version__ = "0.1.0"
