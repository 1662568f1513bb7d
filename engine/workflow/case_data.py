"""Case data in a stored state: any JSON a person, a message or a script put there reads back as it was.

SpiffWorkflow's serializer writes a value it knows (a ``date``, a ``Decimal``, a spec, an event) as a dict with a
``typename`` key and, reading a state, turns *every* dict with that key back into an object of that name. Case
data is not its own: a form field, a message payload or a script result holding ``{"typename": …}`` was read
back as an object (``{"typename": "date", "value": "…"}`` became a date), or not at all — an unknown name, a
malformed value or an internal type made every later load of the case fail, for good.

So the data a state carries (each task's data and internal data, a workflow's data, a pending event's payload)
is written through :func:`escape`: a dict of the data that has a ``typename`` key is stored wrapped
(``{"typename": "accredit.dict", "items": {…}}``); at that point the values SpiffWorkflow converts are still
objects, so every dict with the key is data. :func:`restore` reads it back: wrapped dicts unwrapped, typed values
converted by the registry, and whatever it cannot convert (an unknown name, a malformed value: states written
before the wrapping) left as the plain dict it is.
"""
from __future__ import annotations

TYPENAME = "typename"
#: the typename of a wrapped dict of case data (a dict that has a ``typename`` key of its own)
WRAPPED = "accredit.dict"


def escape(value):
    """``value`` with each dict that has a ``typename`` key wrapped; ``value`` itself when there is none."""
    kind = type(value)
    if kind is dict:
        copy = None
        for key, item in value.items():
            escaped = escape(item)
            if escaped is not item:
                if copy is None:
                    copy = dict(value)
                copy[key] = escaped
        result = value if copy is None else copy
        return {TYPENAME: WRAPPED, "items": result} if TYPENAME in value else result
    if kind is list or kind is tuple:
        copy = None
        for index, item in enumerate(value):
            escaped = escape(item)
            if escaped is not item:
                if copy is None:
                    copy = list(value)
                copy[index] = escaped
        return value if copy is None else copy
    return value


def restore(value, from_dict: dict):
    """A stored value of case data as it was written: ``from_dict`` is the registry's ``convert_from_dict``.

    ``value`` is what ``json.loads`` just made of a stored state (owned by nobody else): it is restored in
    place, each container replaced only where a value inside it changes, so plain data costs one walk and no
    copies (restoring is on every request's path)."""
    kind = type(value)
    if kind is dict:
        name = value.get(TYPENAME)
        if name is not None:
            if name == WRAPPED and type(value.get("items")) is dict:
                return _restore_items(value["items"], from_dict)
            convert = from_dict.get(name) if type(name) is str else None
            if convert is not None:
                fields = {k: v for k, v in value.items() if k != TYPENAME}
                try:
                    return convert(fields)
                except Exception:  # noqa: BLE001 - a value it cannot convert stays the dict it is
                    pass
        return _restore_items(value, from_dict)
    if kind is list:
        for index, item in enumerate(value):
            if type(item) in _CONTAINERS:
                restored = restore(item, from_dict)
                if restored is not item:
                    value[index] = restored
    return value


_CONTAINERS = (dict, list)


def _restore_items(value: dict, from_dict: dict) -> dict:
    for key, item in value.items():
        if type(item) in _CONTAINERS:
            restored = restore(item, from_dict)
            if restored is not item:
                value[key] = restored  # the key exists: the dict's size does not change while it is walked
    return value
