"""Feature pipeline for the churn model: load, clean and encode customer records."""

from __future__ import annotations

import pandas as pd

MIN_TENURE_DAYS = 30


def load_customers(path: str) -> pd.DataFrame:
    """Read the exported customer table from Parquet."""
    return pd.read_parquet(path)


def drop_new_accounts(df: pd.DataFrame) -> pd.DataFrame:
    """Remove accounts younger than MIN_TENURE_DAYS; they cannot have churned yet."""
    return df[df["tenure_days"] >= MIN_TENURE_DAYS]


def impute_tenure(df: pd.DataFrame) -> pd.DataFrame:
    """Fill missing tenure with the median tenure of the customer's plan."""
    medians = df.groupby("plan")["tenure_days"].transform("median")
    return df.assign(tenure_days=df["tenure_days"].fillna(medians))


class ContractEncoder:
    """One-hot encode the contract type (monthly, annual, two-year)."""

    categories = ("monthly", "annual", "two_year")

    def transform(self, df: pd.DataFrame) -> pd.DataFrame:
        for cat in self.categories:
            df[f"contract_{cat}"] = (df["contract"] == cat).astype(int)
        return df.drop(columns=["contract"])
