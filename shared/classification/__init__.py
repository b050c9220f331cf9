"""Support-ticket classification: validated tickets in, exactly one recorded outcome per message out."""
