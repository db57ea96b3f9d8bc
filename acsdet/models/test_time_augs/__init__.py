from .lesion_tta_model import LesionDetTTAModel, unflip_masks

__all__ = ['LesionDetTTAModel', 'unflip_masks']
