"""Selection: which assets an expression like `clean_records+` or `tag:nightly` chooses."""

from assetflow.selection.resolve import resolve as resolve
from assetflow.selection.resolve import select as select
from assetflow.selection.syntax import METHODS as METHODS
from assetflow.selection.syntax import UNBOUNDED as UNBOUNDED
from assetflow.selection.syntax import AllAtom as AllAtom
from assetflow.selection.syntax import Atom as Atom
from assetflow.selection.syntax import Depth as Depth
from assetflow.selection.syntax import GlobAtom as GlobAtom
from assetflow.selection.syntax import Intersection as Intersection
from assetflow.selection.syntax import MethodAtom as MethodAtom
from assetflow.selection.syntax import NameAtom as NameAtom
from assetflow.selection.syntax import Selection as Selection
from assetflow.selection.syntax import Term as Term
from assetflow.selection.syntax import Union as Union
from assetflow.selection.syntax import parse_selection as parse_selection
from assetflow.selection.syntax import render as render
