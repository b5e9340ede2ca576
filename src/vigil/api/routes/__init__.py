"""One router per resource. Routes are authenticated unless ``create_app`` includes them as public."""
