"""Which names a notebook cell reads from outside and which it binds.

The grader replays a locked cell in the evaluator only when everything it reads is
already defined there; the evaluator asks the kernel only for the names a test cell
reads before binding them. Both questions are answered from the cell's syntax tree,
scope by scope (a function's parameters and locals are its own).
"""
import ast
import builtins

BUILTINS = frozenset(dir(builtins)) | {"get_ipython", "__name__", "__file__", "__builtins__"}


def parse(source):
    """The syntax tree of a cell (IPython syntax such as %magics turned into Python), or None."""
    from IPython.core.inputtransformer2 import TransformerManager
    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None


def _targets(node):
    """Names bound by an assignment target."""
    if isinstance(node, ast.Name):
        return {node.id}
    if isinstance(node, (ast.Tuple, ast.List)):
        return set().union(*(_targets(e) for e in node.elts)) if node.elts else set()
    if isinstance(node, ast.Starred):
        return _targets(node.value)
    return set()   # attributes and subscripts bind no name


class _Scope(ast.NodeVisitor):
    """Reads and bindings of one scope, not descending into nested scopes' own locals."""

    def __init__(self):
        self.reads, self.binds, self.declared = [], set(), set()

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load):
            self.reads.append(node.id)
        else:
            self.binds.add(node.id)

    def visit_Global(self, node):
        self.declared.update(node.names)

    visit_Nonlocal = visit_Global

    def _nested(self, node, args, body):
        self.reads.extend(free_reads(node, args, body))

    def visit_FunctionDef(self, node):
        for d in node.decorator_list + [a for a in (node.args.defaults + node.args.kw_defaults) if a is not None]:
            self.visit(d)
        self.binds.add(node.name)
        self._nested(node, node.args, node.body)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node):
        for d in [a for a in (node.args.defaults + node.args.kw_defaults) if a is not None]:
            self.visit(d)
        self._nested(node, node.args, [node.body])

    def visit_ClassDef(self, node):
        for d in node.decorator_list + node.bases + [k.value for k in node.keywords]:
            self.visit(d)
        self.binds.add(node.name)
        self.reads.extend(free_reads(node, None, node.body))

    def _comprehension(self, node, parts):
        self.visit(node.generators[0].iter)   # evaluated in the enclosing scope
        self.reads.extend(free_reads(node, None, parts, comprehension=node.generators))

    def visit_ListComp(self, node):
        self._comprehension(node, [node.elt])

    visit_SetComp = visit_GeneratorExp = visit_ListComp

    def visit_DictComp(self, node):
        self._comprehension(node, [node.key, node.value])

    def visit_Import(self, node):
        for alias in node.names:
            self.binds.add(alias.asname or alias.name.split(".")[0])

    visit_ImportFrom = visit_Import

    def visit_ExceptHandler(self, node):
        if node.name:
            self.binds.add(node.name)
        self.generic_visit(node)


def free_reads(node, args, body, comprehension=None):
    """Names a nested scope reads from the scopes around it."""
    scope = _Scope()
    local = set()
    if args is not None:
        for a in args.posonlyargs + args.args + args.kwonlyargs + [args.vararg, args.kwarg]:
            if a is not None:
                local.add(a.arg)
    for i, gen in enumerate(comprehension or []):
        local |= _targets(gen.target)
        if i:
            scope.visit(gen.iter)
        for cond in gen.ifs:
            scope.visit(cond)
    for statement in body:
        scope.visit(statement)
    local |= scope.binds - scope.declared
    return [n for n in scope.reads if n not in local]


def reads_and_binds(tree):
    """[(names read, names bound)] of each top-level statement of a parsed cell, in order."""
    steps = []
    for statement in tree.body:
        scope = _Scope()
        scope.visit(statement)
        steps.append((set(scope.reads), scope.binds))
    return steps


def needed(tree):
    """Names the cell reads before it binds them itself: what must come from outside."""
    bound, wanted = set(), set()
    for reads, binds in reads_and_binds(tree):
        wanted |= reads - bound
        bound |= binds
    return wanted - BUILTINS


def bound(tree):
    """Every name the cell binds at its top level."""
    return set().union(*(binds for _, binds in reads_and_binds(tree))) if tree.body else set()


def imported_modules(tree):
    """The modules a cell imports (absolute imports only), in order."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
    return list(dict.fromkeys(found))
