from apiflask import APIBlueprint

bp = APIBlueprint("public_api", __name__)
