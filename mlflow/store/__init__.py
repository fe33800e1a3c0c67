"""Stores behind the gateway's database-backed endpoints."""
