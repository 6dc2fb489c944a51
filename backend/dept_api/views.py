from apiflask import APIBlueprint

bp = APIBlueprint("dept_api", __name__)
