"""Step 2 -> 3: rename a field."""

from langmigrate import migration


@migration("r2", down_revision="r1", slug="rename_destination")
def rename_destination(state):
    return state.rename_field("destination", "destination_city")
