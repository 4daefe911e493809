"""Evaluate a selection against the tree: list min/max, node bounds, acquired elements.

The same evaluation drives the live counters, the draft save and the validation, so the browser
and the server can never disagree about a rule.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import ngettext

from .tree import Tree, TreeElement, TreeList


class SelectionRejected(Exception):
    """A request selected something the tree does not offer (a forged or stale form)."""

    def __init__(self, messages: list[str]):
        super().__init__("; ".join(messages))
        self.messages = messages


@dataclass
class ListResult:
    tree_list: TreeList
    count: int
    ects: Decimal
    is_active: bool  # False when the parent element is not chosen: the list does not count

    @property
    def is_too_few(self) -> bool:
        return self.is_active and self.count < self.tree_list.min_chosen

    @property
    def is_too_many(self) -> bool:
        maximum = self.tree_list.max_chosen
        return self.is_active and maximum is not None and self.count > maximum

    @property
    def is_ok(self) -> bool:
        return not (self.is_too_few or self.is_too_many)


@dataclass
class NodeResult:
    """Bounds on the elements chosen directly beneath a VET or an ELP."""

    label: str
    key: str  # the element key, or "vet"
    count: int
    ects: Decimal
    min_chosen: int | None
    max_chosen: int | None
    min_ects: Decimal | None
    max_ects: Decimal | None

    @property
    def problems(self) -> list[str]:
        found = []
        if self.min_chosen is not None and self.count < self.min_chosen or (
            self.max_chosen is not None and self.count > self.max_chosen
        ):
            found.append(_node_count_message(self))
        if self.min_ects is not None and self.ects < self.min_ects or (
            self.max_ects is not None and self.ects > self.max_ects
        ):
            found.append(_node_ects_message(self))
        return found


@dataclass
class Evaluation:
    chosen_keys: set[str]  # every chosen place: mandatory, acquired and ticked
    selected_keys: set[str]  # the ticked choice elements that count (stored in the draft)
    lists: dict[str, ListResult] = field(default_factory=dict)
    nodes: dict[str, NodeResult] = field(default_factory=dict)
    credited_ects: dict[str, Decimal] = field(default_factory=dict)  # per chosen element key
    total_ects: Decimal = Decimal(0)

    @property
    def is_complete(self) -> bool:
        return all(r.is_ok for r in self.lists.values()) and not any(
            n.problems for n in self.nodes.values()
        )

    @property
    def has_excess(self) -> bool:
        """Whether a list or node has more than its maximum, which even a partial IP refuses."""
        return any(r.is_too_many for r in self.lists.values()) or any(
            (n.max_chosen is not None and n.count > n.max_chosen)
            or (n.max_ects is not None and n.ects > n.max_ects)
            for n in self.nodes.values()
        )

    def problems(self) -> list[str]:
        messages = [list_problem(r) for r in self.lists.values() if not r.is_ok]
        for node in self.nodes.values():
            messages.extend(node.problems)
        return messages


def check_requested_keys(tree: Tree, requested: set[str]) -> None:
    """Reject keys that are not choice elements of this tree, or that are acquired."""
    messages = []
    for key in sorted(requested):
        element = tree.elements_by_key.get(key)
        if element is None:
            messages.append(
                _("Un élément demandé n'est pas proposé dans cette formation ; rechargez la page.")
            )
        elif element.is_acquired:
            messages.append(
                _(
                    "L'élément %(code)s « %(label)s » est déjà acquis : il ne peut pas être choisi à nouveau.",
                    code=element.code,
                    label=element.label,
                )
            )
    if messages:
        raise SelectionRejected(sorted(set(messages)))


def evaluate(tree: Tree, requested: set[str]) -> Evaluation:
    """Work out what is chosen, walking down from the VET through chosen elements only."""
    evaluation = Evaluation(chosen_keys=set(), selected_keys=set())

    def visit_lists(lists: list[TreeList], parent_is_chosen: bool) -> list[TreeElement]:
        chosen_here = []
        for tree_list in lists:
            count = 0
            ects = Decimal(0)
            for element in tree_list.elements:
                is_chosen = parent_is_chosen and (
                    tree_list.type == "O" or element.is_acquired or element.key in requested
                )
                if is_chosen and tree_list.is_choice and not element.is_acquired:
                    evaluation.selected_keys.add(element.key)
                children = visit_lists(element.lists, is_chosen and not element.is_acquired)
                if not is_chosen:
                    continue
                evaluation.chosen_keys.add(element.key)
                credited = _credited_ects(element, children, evaluation)
                evaluation.credited_ects[element.key] = credited
                count += 1
                ects += credited
                chosen_here.append(element)
                _record_node(evaluation, element, children)
            evaluation.lists[tree_list.key] = ListResult(tree_list, count, ects, parent_is_chosen)
        return chosen_here

    root_chosen = visit_lists(tree.lists, True)
    evaluation.total_ects = sum((evaluation.credited_ects[e.key] for e in root_chosen), Decimal(0))
    vet = tree.vet
    if any(b is not None for b in (vet.min_chosen, vet.max_chosen, vet.min_ects, vet.max_ects)):
        evaluation.nodes["vet"] = NodeResult(
            vet.label, "vet", len(root_chosen), evaluation.total_ects,
            vet.min_chosen, vet.max_chosen, vet.min_ects, vet.max_ects,
        )
    return evaluation


def _credited_ects(element: TreeElement, children: list[TreeElement], evaluation: Evaluation) -> Decimal:
    """A semester with lists is worth what is chosen beneath it; any other element its own ECTS."""
    if element.is_semester and element.lists:
        return sum((evaluation.credited_ects[c.key] for c in children), Decimal(0))
    return element.ects


def _record_node(evaluation: Evaluation, element: TreeElement, children: list[TreeElement]) -> None:
    bounds = (element.min_chosen, element.max_chosen, element.min_ects, element.max_ects)
    if all(b is None for b in bounds) or element.is_acquired:
        return
    ects = sum((evaluation.credited_ects[c.key] for c in children), Decimal(0))
    evaluation.nodes[element.key] = NodeResult(element.label, element.key, len(children), ects, *bounds)


def format_ects(value: Decimal) -> str:
    """Write 6 as "6" and 4.5 as "4,5", as French documents do."""
    value = Decimal(value)
    text = f"{value.to_integral():f}" if value == value.to_integral() else f"{value.normalize():f}"
    return text.replace(".", ",")


def list_rule(tree_list: TreeList) -> str:
    """Describe a list's rule in words: "Choisissez 2 éléments"."""
    minimum, maximum = tree_list.min_chosen, tree_list.max_chosen
    if tree_list.type == "O":
        return _("Éléments obligatoires")
    if maximum is None:
        if minimum == 0:
            return _("Facultatif : autant d'éléments que vous le souhaitez")
        return ngettext("Choisissez au moins %(num)s élément", "Choisissez au moins %(num)s éléments", minimum)
    if minimum == maximum:
        return ngettext("Choisissez %(num)s élément", "Choisissez %(num)s éléments", minimum)
    if minimum == 0:
        return ngettext("Facultatif : %(num)s élément au plus", "Facultatif : %(num)s éléments au plus", maximum)
    return _("Choisissez entre %(min)s et %(max)s éléments", min=minimum, max=maximum)


def list_counter(result: ListResult) -> str:
    """Count what is chosen against the rule: "2 sur 3 choisis"."""
    maximum = result.tree_list.max_chosen
    if maximum is not None and result.tree_list.min_chosen == maximum:
        return ngettext("%(num)s sur %(total)s choisi", "%(num)s sur %(total)s choisis", result.count, total=maximum)
    return ngettext("%(num)s choisi", "%(num)s choisis", result.count)


def list_problem(result: ListResult) -> str:
    """Say what is wrong with a list and how to fix it, or return an empty string."""
    tree_list = result.tree_list
    if result.is_too_few:
        missing = tree_list.min_chosen - result.count
        return ngettext(
            "« %(list)s » : choisissez encore %(num)s élément (au moins %(min)s, vous en avez %(count)s).",
            "« %(list)s » : choisissez encore %(num)s éléments (au moins %(min)s, vous en avez %(count)s).",
            missing, list=tree_list.label, min=tree_list.min_chosen, count=result.count,
        )
    if result.is_too_many:
        excess = result.count - tree_list.max_chosen
        return ngettext(
            "« %(list)s » : décochez %(num)s élément (au plus %(max)s, vous en avez %(count)s).",
            "« %(list)s » : décochez %(num)s éléments (au plus %(max)s, vous en avez %(count)s).",
            excess, list=tree_list.label, max=tree_list.max_chosen, count=result.count,
        )
    return ""


def _bounds_text(minimum, maximum, formatter) -> str:
    if minimum is not None and minimum == maximum:
        return _("exactement %(value)s", value=formatter(minimum))
    if maximum is None:
        return _("au moins %(value)s", value=formatter(minimum))
    if minimum is None:
        return _("au plus %(value)s", value=formatter(maximum))
    return _("entre %(min)s et %(max)s", min=formatter(minimum), max=formatter(maximum))


def _node_count_message(node: NodeResult) -> str:
    return _(
        "« %(node)s » demande %(bounds)s éléments choisis ; vous en avez %(count)s.",
        node=node.label,
        bounds=_bounds_text(node.min_chosen, node.max_chosen, str),
        count=node.count,
    )


def _node_ects_message(node: NodeResult) -> str:
    return _(
        "« %(node)s » demande %(bounds)s ECTS ; vos choix en totalisent %(ects)s.",
        node=node.label,
        bounds=_bounds_text(node.min_ects, node.max_ects, format_ects),
        ects=format_ects(node.ects),
    )
