"""The model catalog: what every provider serves, at what price, stored and queried (issue 14)."""
