"""Facts `customers` announces, on commit, for apps above it (realtime, audit)."""

from django.dispatch import Signal

# record: the MergeRecord
customers_merged = Signal()
customer_split = Signal()
