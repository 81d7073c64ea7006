"""placeholder"""

urlpatterns: list = []
