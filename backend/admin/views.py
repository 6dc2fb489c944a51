from apiflask import APIBlueprint

bp = APIBlueprint("admin", __name__)
