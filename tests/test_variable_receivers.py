"""A method called on a variable (``shell.register()``) when several classes define that method: the type the
function's signature gives the parameter, else the class the variable is named after, else no edge at all.
Picking the first of them drew edges to the wrong class (clap's ``fish.write_registration`` went to Bash's),
and the graph walk then carried a report about one shell's registration to another's."""

from __future__ import annotations

import pytest

from fixture_graphs import edges
from indexer.extract import extract_file
from indexer.graph import build_graph

RUST = b"""
pub struct Bash;
pub struct Fish;
impl Bash { pub fn register(&self) {} }
impl Fish { pub fn register(&self) {} }
pub fn install() { let fish = Fish; fish.register(); }
pub fn setup(done: impl Fn(u8) -> u8, shell: &mut Fish) { shell.register(); }
pub fn setup_all(shells: Vec<Fish>) { for shell in shells { shell.register(); } }
"""

GO = b"""
package shells

type Bash struct{}
type Fish struct{}

func (b *Bash) Register() {}
func (f *Fish) Register() {}

func Setup(name string, shell *Fish) { shell.Register() }
func SetupAll(shells []Fish) { for _, shell := range shells { shell.Register() } }
"""

TYPESCRIPT = b"""
export class AxiosHeaders { set(name: string) {} }
export class Cookies { set(name: string) {} }
export function send() { const headers = new AxiosHeaders(); headers.set("a"); }
export function store(done: (ok: boolean) => void, jar?: Cookies) { jar.set("b"); }
export function storeAll(jars) { for (const jar of jars) { jar.set("c"); } }
"""

JAVA = b"""
class Shop {
    void open() { Register register = new Register(); register.ring(); }
    void close(final java.util.Map<String, Bell> byName, Bell doorbell) { doorbell.ring(); }
    void closeAll(java.util.List<Bell> bells) { for (var item : bells) { item.ring(); } }
}
class Register { void ring() {} }
class Bell { void ring() {} }
"""

def method_calls(path: str, source: bytes, language: str) -> set[tuple[str, str, str]]:
    """(caller, callee, resolution) of the calls to ``register``, ``set`` and ``ring``, names without the file."""
    graph = build_graph({path: extract_file(path, source, language)})
    return {
        (caller.partition("::")[2], callee.partition("::")[2], how)
        for caller, callee, how in edges(graph, "calls")
        if callee.rpartition(".")[2].lower() in ("register", "set", "ring")
    }


CASES = {
    "rust": ("src/lib.rs", RUST, {
        ("install", "Fish.register", "local"),
        ("setup", "Fish.register", "parameter"),
    }),
    "go": ("shells/shells.go", GO, {
        ("Setup", "Fish.Register", "parameter"),
    }),
    "typescript": ("src/http.ts", TYPESCRIPT, {
        ("send", "AxiosHeaders.set", "variable"),
        ("store", "Cookies.set", "parameter"),
    }),
    "java": ("src/Shop.java", JAVA, {
        ("Shop.open", "Register.ring", "variable"),
        ("Shop.close", "Bell.ring", "parameter"),
    }),
}


@pytest.mark.parametrize("language", sorted(CASES))
def test_a_variable_s_method_is_its_declared_or_named_class_s_and_else_none(language):
    path, source, expected = CASES[language]
    assert method_calls(path, source, language) == expected


# Two shells with a Register each, and a function that makes a Fish (and an error).
GO_SHELLS = b"""
package shells

type Bash struct{}
type Fish struct{}

func NewFish() (*Fish, error) { return &Fish{}, nil }
func (b *Bash) Register() {}
func (f *Fish) Register() {}
"""

CHAINS = {
    "rust": ("src/lib.rs", b"""
pub struct Bash;
pub struct Fish;
impl Bash { pub fn new() -> Self { Bash } pub fn register(&self) {} }
impl Fish { pub fn new() -> Self { Fish } pub fn register(&self) {} }
pub fn install() { Fish::new().register(); }
""", {("install", "Fish.register", "result")}),
    "go": ("shells/shells.go", GO_SHELLS + b"""
func Install() { NewFish().Register() }
""", {("Install", "Fish.Register", "result")}),
    "java": ("src/Shop.java", b"""
class Shop {
    void open() { new Bell().ring(); Bell.quiet().ring(); }
}
class Register { void ring() {} }
class Bell { static Bell quiet() { return new Bell(); } void ring() {} }
""", {("Shop.open", "Bell.ring", "result")}),
}


@pytest.mark.parametrize("language", sorted(CHAINS))
def test_a_method_called_on_what_a_call_returns_is_that_type_s(language):
    # `Fish::new().register()`, `NewFish().Register()`, `new Bell().ring()`: the class made, or the type the
    # signature of the function before the dot says it returns (`-> Self`, `(*Fish, error)`, `static Bell`).
    path, source, expected = CHAINS[language]
    assert method_calls(path, source, language) == expected


LOCALS = {
    "rust": ("src/lib.rs", b"""
pub struct Bash;
pub struct Fish;
impl Bash { pub fn new() -> Self { Bash } pub fn register(&self) {} }
impl Fish {
    pub fn new() -> Self { Fish }
    pub fn register(&self) {}
    pub fn again(&self) { let next = Self::new(); next.register(); }
}
pub fn made() { let s = Fish::new(); s.register(); }
pub fn typed() { let t: &Fish = pick(); t.register(); }
pub fn shadowed() { let u = Bash::new(); let u = Fish::new(); u.register(); }
pub fn returned() { let v = pick(); v.register(); }
pub fn grow() -> Result<Fish, String> { Ok(Fish) }
pub fn grown() -> Result<(), String> { let w = grow()?; w.register(); Ok(()) }
pub fn looped() { let a = b.get(); let b = a.get(); b.register(); let c = c.get(); c.register(); }
""", {("made", "Fish.register", "variable"), ("typed", "Fish.register", "variable"),
      ("Fish.again", "Fish.register", "variable"), ("grown", "Fish.register", "result")}),
    "go": ("shells/shells.go", GO_SHELLS + b"""
func Made() { s := &Fish{}; s.Register() }
func Typed() { var t *Fish; t.Register() }
func Returned() { u, _ := NewFish(); u.Register() }
func Unknown() { v := pick(); v.Register() }
""", {("Made", "Fish.Register", "variable"), ("Typed", "Fish.Register", "variable"),
      ("Returned", "Fish.Register", "result")}),
    "typescript": ("src/http.ts", b"""
export class AxiosHeaders { set(name: string) {} }
export class Cookies { set(name: string) {} }
export function made() { const s = new Cookies(); s.set("a"); }
export function typed() { let t: Cookies | null = pick(); t.set("b"); }
export function returned() { const u = pick(); u.set("c"); }
export function jar(): Cookies { return new Cookies(); }
export async function fromJar() { const w = await jar(); w.set("d"); }
""", {("made", "Cookies.set", "variable"), ("typed", "Cookies.set", "variable"), ("fromJar", "Cookies.set", "result")}),
    "python": ("shop/bells.py", b"""
from typing import Optional, Self
class Bell:
    def ring(self): ...
    def copy(self) -> Self: ...
class Cart:
    def ring(self): ...
def load() -> Optional[Cart]: ...
def made():
    c = Cart()
    c.ring()
def typed():
    d: Cart = pick()
    d.ring()
def returned():
    e = load()
    e.ring()
async def awaited():
    w = await load()
    w.ring()
def copied():
    f = Bell().copy()
    f.ring()
def unknown():
    g = pick()
    g.ring()
def twice():
    h = Bell()
    h = Cart()
    h.ring()
def maybe(flag):
    m = None
    if flag:
        m = Cart()
    m.ring()
def looped():
    x = x.copy()
    x.ring()
    a = b.get(); b = a.get(); b.ring()
def entered():
    with Cart() as w, open("p") as (r, s):
        w.ring()
        r.ring()
def rebound(carts):
    k = Bell()
    for k in carts:
        k.ring()
def declared(carts):
    y: Cart = None
    for y in carts:
        y.ring()
""", {("made", "Cart.ring", "variable"), ("typed", "Cart.ring", "variable"), ("returned", "Cart.ring", "result"),
      ("awaited", "Cart.ring", "result"), ("copied", "Bell.ring", "result"), ("maybe", "Cart.ring", "variable"),
      ("entered", "Cart.ring", "variable"), ("declared", "Cart.ring", "variable")}),
    "java": ("src/Shop.java", b"""
class Shop {
    void made() { var b = new Bell(); b.ring(); }
    void typed() { final Bell c = pick(); c.ring(); }
    void returned() { var d = pick(); d.ring(); }
    void quiet() { var e = Bell.quiet(); e.ring(); }
}
class Register { void ring() {} }
class Bell { static Bell quiet() { return new Bell(); } void ring() {} }
""", {("Shop.made", "Bell.ring", "variable"), ("Shop.typed", "Bell.ring", "variable"),
      ("Shop.quiet", "Bell.ring", "result")}),
}


@pytest.mark.parametrize("language", sorted(LOCALS))
def test_a_local_variable_s_method_is_the_type_its_declaration_writes_makes_or_gets(language):
    # `let s = Fish::new()`, `s := &Fish{}`, `const s = new Cookies()`, `var b = new Bell()`, or the type written
    # (`let t: &Fish`, `var t *Fish`, `let t: Cookies | null`, `final Bell c`), else the type the function it
    # was assigned from returns (`grow()?` -> Result<Fish, _>, `NewFish()` -> (*Fish, error), `await jar()`,
    # `Bell.quiet()`); Python's `c = Cart()`, `d: Cart = pick()`, `e = load()` with `def load() -> Optional[Cart]`,
    # and `m = None` before `m = Cart()`, `with Cart() as w`; not a name a `for` loop or an unpacking `with` rebinds
    # (`for k in carts` after `k = Bell()`), unless an annotation declared it. A call of nothing of ours, a name
    # declared twice with different types, or variables made from each other (`let b = a.get()` after
    # `let a = b.get()`): no edge, and no endless lookup.
    path, source, expected = LOCALS[language]
    assert method_calls(path, source, language) == expected


ATTRIBUTES = b"""
from typing import Optional
class Bell:
    def ring(self): ...
class Cart:
    def ring(self): ...
def load() -> Cart: ...
class Shop:
    annotated: Cart
    maybe: Optional[Bell] = None
    def __init__(self, given: Optional[Cart], untyped):
        self.given = given
        self.plain = untyped
        self.made = Bell()
        self.loaded = load()
        self.later = None
        self.later = Cart()
        self.mixed = Bell()
        self.unknown = pick()
        self.looped = self.looped.copy()
    def swap(self):
        self.mixed = Cart()
    def by_made(self): self.made.ring()
    def by_result(self): self.loaded.ring()
    def by_class_annotation(self): self.annotated.ring()
    def by_optional(self): self.maybe.ring()
    def by_later(self): self.later.ring()
    def by_mixed(self): self.mixed.ring()
    def by_unknown(self): self.unknown.ring()
    def by_loop(self): self.looped.ring()
    def by_missing(self): self.missing.ring()
    def by_given(self): self.given.ring()
    def by_plain(self): self.plain.ring()
    def closure(self):
        def inner():
            self.made.ring()
        return inner
class Outlet(Shop):
    def sell(self): self.made.ring()
class Stall:
    def __init__(self):
        self.shop = Shop()
    def deeper(self): self.shop.made.ring()
"""


def test_a_python_instance_attribute_s_method_is_the_type_its_class_gives_it():
    # `self.made = Bell()` in any method, what `self.loaded = load()` returns, the class body's annotation
    # (`annotated: Cart`, `maybe: Optional[Bell] = None`) or the annotation of the parameter a method assigns
    # (`self.given = given` with `given: Optional[Cart]`); a base class's attributes count for its subclasses, and
    # `None` before a class does not make the attribute unknown; `self.shop.made.ring()` goes through Shop's `made`.
    # An attribute two methods assign different classes, a call of nothing of ours, an attribute made from itself or
    # never assigned: no edge.
    assert method_calls("shop/stores.py", ATTRIBUTES, "python") == {
        ("Shop.by_made", "Bell.ring", "attribute"), ("Shop.by_result", "Cart.ring", "attribute"),
        ("Shop.by_class_annotation", "Cart.ring", "attribute"), ("Shop.by_optional", "Bell.ring", "attribute"),
        ("Shop.by_later", "Cart.ring", "attribute"), ("Shop.closure.inner", "Bell.ring", "attribute"),
        ("Shop.by_given", "Cart.ring", "attribute"),
        ("Outlet.sell", "Bell.ring", "attribute"), ("Stall.deeper", "Bell.ring", "attribute"),
    }


FIELDS = {
    "rust": ("src/lib.rs", b"""
pub struct Bash;
pub struct Fish;
impl Bash { pub fn register(&self) {} }
impl Fish { pub fn register(&self) {} }
pub struct Shell { fish: Fish, boxed: Box<Bash>, many: Vec<Fish> }
impl Shell {
    pub fn direct(&self) { self.fish.register(); }
    pub fn boxed(&self) { self.boxed.register(); }
    pub fn many(&self) { self.many.register(); }
    pub fn missing(&self) { self.nothing.register(); }
}
pub struct Wrapped(Fish, pub Box<Bash>);
impl Wrapped {
    pub fn first(&self) { self.0.register(); }
    pub fn second(&self) { self.1.register(); }
    pub fn third(&self) { self.2.register(); }
}
""", {("Shell.direct", "Fish.register", "field"), ("Shell.boxed", "Bash.register", "field"),
      ("Wrapped.first", "Fish.register", "field"), ("Wrapped.second", "Bash.register", "field")}),
    "go": ("shells/shells.go", b"""
package shells
type Bash struct{}
type Fish struct{}
func (b *Bash) Register() {}
func (f *Fish) Register() {}
type Base struct { inner *Bash }
type Shell struct { Base; fish *Fish; all []Fish }
func (s *Shell) Direct() { s.fish.Register() }
func (s *Shell) Promoted() { s.inner.Register() }
func (s *Shell) Slice() { s.all.Register() }
func Param(sh *Shell) { sh.fish.Register() }
""", {("Shell.Direct", "Fish.Register", "field"), ("Shell.Promoted", "Bash.Register", "field"),
                                             ("Param", "Fish.Register", "field")}),
    "java": ("src/Shop.java", b"""
class Base { protected Bell inherited; }
class Shop extends Base {
    private final Bell bell = new Bell();
    Register register;
    void direct() { bell.ring(); }
    void viaThis() { this.register.ring(); }
    void shadowed(Register bell) { bell.ring(); }
    Bell thing;
    void typedLoop(java.util.List<Register> all) { for (Register bell : all) { bell.ring(); } }
    void varLoop(java.util.List<Register> all) { for (var thing : all) { thing.ring(); } }
    void untypedLambda(java.util.List<Register> all) { all.forEach(thing -> thing.ring()); }
    void typedLambda(java.util.List<Register> all) { all.forEach((Register bell) -> bell.ring()); }
    void fromBase() { inherited.ring(); }
    class Inner { void outer() { bell.ring(); } }
}
class Register { void ring() {} }
class Bell { void ring() {} }
""", {("Shop.direct", "Bell.ring", "field"), ("Shop.viaThis", "Register.ring", "field"),
                                        ("Shop.fromBase", "Bell.ring", "field"),
                                        ("Shop.Inner.outer", "Bell.ring", "field"),
                                        ("Shop.shadowed", "Register.ring", "parameter"),
                                        ("Shop.typedLoop", "Register.ring", "variable"),
                                        ("Shop.typedLambda", "Register.ring", "variable")}),
    "typescript": ("src/http.ts", b"""
export class AxiosHeaders { set(name: string) {} }
export class Cookies { set(name: string) {} }
class Base { protected inherited: Cookies; }
export class Client extends Base {
    private headers: AxiosHeaders;
    jar = new Cookies();
    maybe: Cookies | null = null;
    send() { this.headers.set("a"); }
    store() { this.jar.set("b"); }
    fromBase() { this.inherited.set("c"); }
    optional() { this.maybe.set("d"); }
    missing() { this.nothing.set("e"); }
}
export class Agent {
    constructor(private readonly given: Cookies, readonly kept: AxiosHeaders, plain: Cookies) {
        this.made = new AxiosHeaders();
        this.other = pick();
    }
    byGiven() { this.given.set("f"); }
    byKept() { this.kept.set("g"); }
    byMade() { this.made.set("h"); }
    byOther() { this.other.set("i"); }
    byPlain() { this.plain.set("j"); }
}
""", {("Client.send", "AxiosHeaders.set", "field"), ("Client.store", "Cookies.set", "field"),
                                           ("Client.fromBase", "Cookies.set", "field"),
                                           ("Client.optional", "Cookies.set", "field"),
                                           ("Agent.byGiven", "Cookies.set", "field"),
                                           ("Agent.byKept", "AxiosHeaders.set", "field"),
                                           ("Agent.byMade", "AxiosHeaders.set", "field")}),
    "javascript": ("lib/http.js", b"""
class AxiosHeaders { set(name) {} }
class Cookies { set(name) {} }
class Client {
    constructor() { this.jar = new Cookies(); this.other = pick(); }
    store() { this.jar.set("a"); }
    other() { this.other.set("b"); }
}
""", {("Client.store", "Cookies.set", "field")}),
}


@pytest.mark.parametrize("language", sorted(FIELDS))
def test_a_method_called_on_a_field_is_the_field_type_s(language):
    # `self.fish.register()` with `fish: Fish` (through `Box<Bash>` too) and a tuple struct's `self.0.register()`,
    # `s.fish.Register()` on the receiver or a
    # parameter and a field promoted from an embedded struct, Java's `bell.ring()` and `this.register.ring()` on
    # fields of the class, a superclass or the outer class, TypeScript's `this.headers.set()` with `headers:
    # AxiosHeaders` or `jar = new Cookies()`. A parameter, loop variable or lambda parameter named like a field is
    # that variable (a `for (var thing : all)` or `thing -> thing.ring()` of unknown type too, so no edge); a
    # `Vec<Fish>`, a `[]Fish` or a field nobody declared: no edge. TypeScript's `constructor(private readonly
    # given: Cookies)` and `readonly kept` declare fields, a plain parameter does not; `this.made = new
    # AxiosHeaders()` in a method makes one (JavaScript too); what another call returns says nothing.
    path, source, expected = FIELDS[language]
    assert method_calls(path, source, language) == expected
