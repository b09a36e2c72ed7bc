"""The operator's logout, which ends their shift (chat/shifts.py); login and the panel page:
operators/views.py."""

from django.contrib.auth import logout as auth_logout
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from operators.models import Operator

from .shifts import operator_logout


@require_POST
def logout(request):
    """Ends every room of the operator at once (R10), closes their panels, then the session."""
    operator = Operator.objects.filter(user_id=request.user.pk).first() if request.user.is_authenticated else None
    if operator is not None:
        operator_logout(operator=operator)
    auth_logout(request)
    return redirect("login")
