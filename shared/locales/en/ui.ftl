# General user-interface texts.
ui-app-name = Office telephony
ui-greeting = Welcome, { $name }
