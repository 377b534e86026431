"""Getting invoices and payments in: accounting exports, bank statements, and the matching
between them. Pure parsing and deciding here; the command (runner/commands/imports.py) writes."""
