"""Feedback pages, with nbconvert's templates compiled once per grading process.

nbgrader's GenerateFeedback makes a new HTMLExporter, and so a new Jinja environment,
for every student: each recompiled the same nine templates (about a fifth of a second
per submission here). Jinja's bytecode cache, kept in memory, skips that; it keys each
template by name and source checksum, so a changed template is compiled afresh.
"""
from jinja2 import BytecodeCache
from nbconvert.exporters import HTMLExporter


class MemoryBytecodeCache(BytecodeCache):
    """Compiled templates held in this process."""

    def __init__(self):
        self._code = {}

    def load_bytecode(self, bucket):
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        self._code[bucket.key] = bucket.bytecode_to_string()


COMPILED = MemoryBytecodeCache()


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTMLExporter (configured as HTMLExporter is), sharing compiled templates."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = COMPILED
        return environment
