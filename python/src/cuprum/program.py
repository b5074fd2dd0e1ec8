"""Program: the nominal type of an allowlisted program name."""

from __future__ import annotations

import typing as typ

Program = typ.NewType("Program", str)
"""A program name as the catalogue lists it ("echo"), or an absolute path a
project pins ("/usr/bin/python3"). A plain ``str`` is not a Program to a type
checker, so every place that names a program to run says so."""
