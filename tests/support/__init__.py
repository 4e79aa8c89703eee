"""Test support: real servers on loopback and real databases."""
