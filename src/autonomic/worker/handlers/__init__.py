"""Built-in task handlers, one module per family; `registry` maps task types to them."""
