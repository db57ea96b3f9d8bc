"""acsdet's registry nodes are children of mmdet's and fall back to mmdet / mmengine."""
import pytest
from mmengine.registry import DefaultScope

from acsdet import registry as acs_registry
from acsdet.apis import register_all_modules


def test_nodes_are_children_of_mmdet():
    from mmdet import registry as mmdet_registry
    for name in ('MODELS', 'DATASETS', 'TRANSFORMS', 'METRICS', 'HOOKS', 'VISUALIZERS'):
        node = getattr(acs_registry, name)
        assert node.scope == 'acsdet'
        assert node.parent is getattr(mmdet_registry, name)


def test_register_all_modules_sets_scope_and_falls_back():
    register_all_modules(init_default_scope=True)
    assert DefaultScope.get_current_instance().scope_name == 'acsdet'
    # an mmdet module resolves through acsdet's node, plain and prefixed
    assert acs_registry.MODELS.get('MaskRCNN').__module__.startswith('mmdet.')
    assert acs_registry.MODELS.get('mmdet.ResNet').__module__.startswith('mmdet.')
    # an mmengine optimizer too
    assert acs_registry.OPTIMIZERS.get('SGD') is not None


def test_unknown_type_fails_clearly():
    register_all_modules(init_default_scope=True)
    with pytest.raises(KeyError, match='NoSuchBackbone'):
        acs_registry.MODELS.build(dict(type='NoSuchBackbone'))
