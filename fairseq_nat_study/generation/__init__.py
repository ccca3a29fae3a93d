"""Generators of the plugin (built by ``nat_study_translation.build_generator``)."""
